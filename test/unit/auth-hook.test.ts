import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessControl,
  createAccessControl,
  registerAccessControl,
} from '../../presence-service/auth/access-control.js';
import { hashPassword } from '../../presence-service/auth/passwords.js';
import { accessFor } from '../../presence-service/auth/principal.js';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import type { Role } from '../../src/protocol/commands.js';

// The access-control hook (docs/http-auth.md): the one rule by method and path, 401 without a
// principal, 403 for a role too low, CSRF for cookie changes, cross-site changes refused, and the
// open routes. Stand-in routes play every kind of route the service has.

describe('the access rule', () => {
  it.each([
    ['POST', '/api/session', '/api/session', 'open'],
    ['GET', '/api/session', '/api/session', 'open'],
    ['GET', '/healthz', '/healthz', 'open'],
    ['GET', '/', '/', 'open'],
    ['GET', '/assets/*', '/assets/app.js', 'open'],
    ['DELETE', '/api/session', '/api/session', 'viewer'],
    ['GET', '/api/meters', '/api/meters', 'viewer'],
    ['HEAD', '/api/meters/:id', '/api/meters/m-1', 'viewer'],
    ['GET', '/metrics', '/metrics', 'viewer'],
    ['POST', '/api/groups/:group/commands', '/api/groups/g/commands', 'operator'],
    ['PUT', '/api/demand-response/rules/:group', '/api/demand-response/rules/g', 'operator'],
    ['PATCH', '/api/anything', '/api/anything', 'operator'],
    ['OPTIONS', '/api/meters', '/api/meters', 'operator'],
    ['GET', '/api/users', '/api/users', 'admin'],
    ['POST', '/api/tokens', '/api/tokens', 'admin'],
    ['PATCH', '/api/users/:name', '/api/users/bob', 'admin'],
    ['GET', '/api/tokens', '/api/tokens', 'viewer'],
    ['DELETE', '/api/tokens/:id', '/api/tokens/3', 'viewer'],
    // No route matched: judged by the path, decoded and folded.
    ['GET', undefined, '/api/nothing', 'viewer'],
    ['GET', undefined, '//API/%6Deters', 'viewer'],
    ['POST', undefined, '/api/users', 'admin'],
    ['GET', undefined, '/no-such-page', 'open'],
    // A catch-all route does not open a path under /api/.
    ['GET', '/*', '/api/meters', 'viewer'],
  ] as const)('%s %s (%s) needs %s', (method, route, path, expected) => {
    const access = accessFor(method, route, path);
    expect(access.open ? 'open' : access.role).toBe(expected);
  });
});

describe('access-control hook', () => {
  let db: Database;
  let access: AccessControl;
  let app: FastifyInstance;
  const bearer: Partial<Record<Role, string>> = {};
  const PASSWORD = 'operator password 1';

  beforeAll(async () => {
    db = openDatabase(':memory:');
    access = createAccessControl({ db, throttle: { delayStepMs: 0 } });
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      const passwordHash = role === 'operator' ? await hashPassword(PASSWORD) : 'unusable';
      const user = access.users.add({ username: `${role}-user`, role, passwordHash });
      bearer[role] = `Bearer ${access.tokens.create(user.id, { label: 'test' }).token}`;
    }
    app = Fastify();
    installErrorHandlers(app);
    registerAccessControl(app, access);
    const who = (request: { principal: unknown }) => ({ principal: request.principal });
    app.get('/api/things', who);
    app.post('/api/things', who);
    app.delete('/api/things/:id', who);
    app.get('/metrics', () => 'metric 1\n');
    app.get('/', () => 'the sign-in page');
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    db.close();
  });

  const signIn = async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username: 'operator-user', password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    const cookie = res.cookies.find((c) => c.name === 'gp_session');
    return { cookie: `gp_session=${cookie?.value}`, csrf: res.json().csrfToken as string };
  };

  it('answers 401 with WWW-Authenticate when no principal is given', async () => {
    for (const [method, url] of [
      ['GET', '/api/things'],
      ['POST', '/api/things'],
      ['GET', '/metrics'],
      ['GET', '/api/users'],
      ['GET', '/api/no-such-route'],
      ['GET', '/%61pi/things'],
    ] as const) {
      const res = await app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json().error.code).toBe('unauthenticated');
    }
  });

  it('lets the open routes and the pages through without a principal', async () => {
    expect((await app.inject('/')).statusCode).toBe(200);
    expect((await app.inject('/no-such-page')).statusCode).toBe(404);
    expect((await app.inject('/api/session')).json()).toEqual({ user: null, csrfToken: null });
  });

  it('takes a bearer token, and refuses an unknown or malformed one', async () => {
    const ok = await app.inject({ url: '/api/things', headers: { authorization: bearer.viewer } });
    expect(ok.json()).toEqual({
      principal: { username: 'viewer-user', role: 'viewer', via: 'token' },
    });
    for (const authorization of [
      'Bearer nope',
      'Basic dXNlcjpwYXNz',
      `Bearer ${'x'.repeat(300)}`,
    ]) {
      const res = await app.inject({ url: '/api/things', headers: { authorization } });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    }
  });

  it('needs viewer to read, operator to change, admin for users and tokens', async () => {
    const call = async (role: Role, method: 'GET' | 'POST' | 'DELETE', url: string) =>
      (await app.inject({ method, url, headers: { authorization: bearer[role] } })).statusCode;
    expect(await call('viewer', 'GET', '/api/things')).toBe(200);
    expect(await call('viewer', 'GET', '/metrics')).toBe(200);
    expect(await call('viewer', 'POST', '/api/things')).toBe(403);
    expect(await call('viewer', 'DELETE', '/api/things/1')).toBe(403);
    expect(await call('operator', 'POST', '/api/things')).toBe(200);
    expect(await call('operator', 'DELETE', '/api/things/1')).toBe(200);
    expect(await call('operator', 'GET', '/api/users')).toBe(403);
    expect(await call('admin', 'GET', '/api/users')).toBe(200);
    const refused = await app.inject({
      method: 'POST',
      url: '/api/things',
      headers: { authorization: bearer.viewer },
    });
    expect(refused.json()).toEqual({
      error: {
        code: 'forbidden',
        message: 'POST /api/things needs the operator role; viewer-user is a viewer',
      },
    });
  });

  it('needs the CSRF header for a change made with the session cookie', async () => {
    const { cookie, csrf } = await signIn();
    const read = await app.inject({ url: '/api/things', headers: { cookie } });
    expect(read.json().principal).toEqual({
      username: 'operator-user',
      role: 'operator',
      via: 'session',
    });
    const forged = await app.inject({ method: 'POST', url: '/api/things', headers: { cookie } });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().error.code).toBe('csrf');
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/things',
      headers: { cookie, 'x-csrf-token': `${csrf}x` },
    });
    expect(wrong.statusCode).toBe(403);
    const right = await app.inject({
      method: 'POST',
      url: '/api/things',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(right.statusCode).toBe(200);
    // A bearer token is not ambient: no CSRF header needed.
    const program = await app.inject({
      method: 'POST',
      url: '/api/things',
      headers: { authorization: bearer.operator },
    });
    expect(program.statusCode).toBe(200);
  });

  it('refuses a change from another site, even with a valid CSRF token', async () => {
    const { cookie, csrf } = await signIn();
    const post = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/api/things',
        headers: { cookie, 'x-csrf-token': csrf, host: 'gp.example:8443', ...headers },
      });
    const crossSite: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of crossSite) {
      const res = await post(headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(res.json().error.code).toBe('csrf');
    }
    expect((await post({ origin: 'https://gp.example:8443' })).statusCode).toBe(200);
    expect((await post({ 'sec-fetch-site': 'same-origin' })).statusCode).toBe(200);
    // Sign-in too: another site must not sign a browser in as the attacker (login CSRF).
    const login = await app.inject({
      method: 'POST',
      url: '/api/session',
      headers: { origin: 'https://evil.example' },
      payload: { username: 'operator-user', password: PASSWORD },
    });
    expect(login.statusCode).toBe(403);
  });

  it('answers 401 for a session that has ended, and clears the cookie', async () => {
    const { cookie, csrf } = await signIn();
    const out = await app.inject({
      method: 'DELETE',
      url: '/api/session',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(204);
    const after = await app.inject({ url: '/api/things', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.message).toMatch(/session has ended/);
    expect(after.cookies.find((c) => c.name === 'gp_session')?.value).toBe('');
  });

  it('ends access with the token: a revoked token is refused at once', async () => {
    const user = access.users.get('viewer-user');
    if (!user) throw new Error('no viewer');
    const { token, record } = access.tokens.create(user.id, { label: 'short-lived' });
    const headers = { authorization: `Bearer ${token}` };
    expect((await app.inject({ url: '/api/things', headers })).statusCode).toBe(200);
    access.tokens.revoke(record.id);
    expect((await app.inject({ url: '/api/things', headers })).statusCode).toBe(401);
  });
});
