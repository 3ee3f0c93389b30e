import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { programPath } from '../../src/stack/programs.js';
import { connectSse } from '../../src/stack/sse-client.js';
import type { Stack, StackDescription } from '../../src/stack/start-stack.js';
import { apiFetch } from './helpers/api.js';
import { runCli } from './helpers/cli-process.js';
import { startTestStack } from './helpers/test-stack.js';

// Access control on HTTP, end to end (docs/http-auth.md): the real service process of the test
// stack, users made with the real `presence-service users` command against its database, and
// plain fetch as a browser or a program would call. No agents run: the group commands go to
// offline meters, which is enough to see who may start one.

let stack: Stack;
let viewer: { username: string; password: string };
let operatorToken: string;

/** `presence-service users …` on the stack's service database. */
const users = (...args: string[]) =>
  runCli('presence-service', ['users', ...args, '--config', stack.serviceConfigFile]);

/** A request with no credentials unless `headers` bring them. */
const call = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
  fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });

async function signIn(username: string, password: string) {
  const res = await call('POST', '/api/session', {}, { username, password });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] as string;
  const body = (await res.json()) as {
    user: { username: string; role: string };
    csrfToken: string;
  };
  return { cookie, csrfToken: body.csrfToken, user: body.user, setCookie };
}

const READ_COMMAND = { command: 'read', args: { registers: ['1-0:1.8.0'] } };

beforeAll(async () => {
  stack = await startTestStack(2);
  const added = await users('add', 'vera', '--role', 'viewer');
  expect(added.code, added.stderr).toBe(0);
  viewer = { username: 'vera', password: added.stdout.trim() };
  const operator = await users('add', 'otto', '--role', 'operator');
  expect(operator.code, operator.stderr).toBe(0);
  const token = await users('token', 'otto', '--label', 'e2e');
  expect(token.code, token.stderr).toBe(0);
  operatorToken = token.stdout.trim();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('HTTP access control', () => {
  it('answers 401 everywhere under /api without credentials, except the open routes', async () => {
    const guarded: Array<[string, string, unknown?]> = [
      ['GET', '/api/meters'],
      ['GET', '/api/meters/mtr-0001'],
      ['GET', '/api/meters/mtr-0001/history'],
      ['GET', '/api/meters/mtr-0001/readings'],
      ['GET', '/api/stats'],
      ['GET', '/api/events'],
      ['GET', '/api/groups'],
      ['GET', '/api/groups/feeder-1'],
      ['GET', '/api/jobs/1'],
      ['GET', '/api/alerts'],
      ['GET', '/api/polls'],
      ['GET', '/api/demand-response'],
      ['GET', '/api/users'],
      ['GET', '/api/tokens'],
      ['GET', '/api/no-such-route'],
      ['GET', '/metrics'],
      ['POST', '/api/groups/feeder-1/commands', READ_COMMAND],
      ['PUT', '/api/demand-response/rules/feeder-1', { limitKw: 1 }],
      ['POST', '/api/alerts/1/ack'],
      ['POST', '/api/users', { username: 'eve', role: 'admin' }],
      ['DELETE', '/api/session'],
    ];
    for (const [method, path, body] of guarded) {
      const res = await call(method, path, {}, body);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('www-authenticate'), `${method} ${path}`).toMatch(/^Bearer/);
      const answer = (await res.json()) as { error: { code: string } };
      expect(answer.error.code, `${method} ${path}`).toBe('unauthenticated');
    }
    // Open: the health check, the sign-in and "am I signed in?" (which answers "nobody").
    expect([200, 503]).toContain((await call('GET', '/healthz')).status);
    const session = await call('GET', '/api/session');
    expect(session.status).toBe(200);
    expect(((await session.json()) as { user: unknown }).user).toBe(null);
    // A page outside /api is not guarded (the dashboard must load to show its sign-in).
    expect((await call('GET', '/no-such-page')).status).not.toBe(401);
    // The event stream takes the bearer header like every route.
    await expect(connectSse(`${stack.apiUrl}/api/events`, () => {})).rejects.toThrow(/401/);
    const sse = await connectSse(`${stack.apiUrl}/api/events`, () => {}, {
      authorization: `Bearer ${stack.apiToken}`,
    });
    sse.close();
  });

  it("writes the stack's admin and API token to stack.json, readable by its owner only", async () => {
    const file = join(dirname(stack.serviceConfigFile), 'stack.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(file, 'utf8')) as StackDescription;
    expect(written.admin).toEqual(stack.admin);
    expect(written.apiToken).toBe(stack.apiToken);
    expect((await apiFetch(stack, '/api/users')).status).toBe(200);
    const admin = await signIn(stack.admin.username, stack.admin.password);
    expect(admin.user).toEqual({ username: 'admin', role: 'admin' });
  });

  it('lets a viewer read but not command a group, by cookie or by token', async () => {
    const { cookie, csrfToken, user } = await signIn(viewer.username, viewer.password);
    expect(user).toEqual({ username: 'vera', role: 'viewer' });
    expect((await call('GET', '/api/meters', { cookie })).status).toBe(200);
    expect((await call('GET', '/api/groups/feeder-1', { cookie })).status).toBe(200);
    const refused = await call(
      'POST',
      '/api/groups/feeder-1/commands',
      { cookie, 'x-csrf-token': csrfToken },
      READ_COMMAND,
    );
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toEqual({
      code: 'forbidden',
      message: 'POST /api/groups/feeder-1/commands needs the operator role; vera is a viewer',
    });

    const token = await users('token', 'vera', '--label', 'viewer-token');
    const bearer = { authorization: `Bearer ${token.stdout.trim()}` };
    expect((await call('GET', '/api/stats', bearer)).status).toBe(200);
    expect((await call('POST', '/api/groups/feeder-1/commands', bearer, READ_COMMAND)).status).toBe(
      403,
    );
    expect((await call('GET', '/api/users', bearer)).status).toBe(403);
  });

  it("refuses a cookie change without the session's CSRF token, or from another site", async () => {
    const { cookie, csrfToken } = await signIn(stack.admin.username, stack.admin.password);
    const forged = await call('POST', '/api/groups/feeder-1/commands', { cookie }, READ_COMMAND);
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('csrf');
    const crossSite = await call(
      'POST',
      '/api/groups/feeder-1/commands',
      { cookie, 'x-csrf-token': csrfToken, origin: 'https://attacker.example' },
      READ_COMMAND,
    );
    expect(crossSite.status).toBe(403);
    const jobs = (await (await apiFetch(stack, '/api/jobs/1')).json()) as { error?: unknown };
    expect(jobs.error).toBeDefined(); // no job was started by either
  });

  it("runs an operator's group command with their API token, recorded under their name", async () => {
    const bearer = { authorization: `Bearer ${operatorToken}` };
    const res = await call('POST', '/api/groups/feeder-1/commands', bearer, READ_COMMAND);
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: number };
    const job = (await (await call('GET', `/api/jobs/${jobId}`, bearer)).json()) as {
      requestedBy: string;
      via: string;
    };
    expect(job).toMatchObject({ requestedBy: 'otto', via: 'http' });
    // An operator is no admin.
    expect((await call('GET', '/api/users', bearer)).status).toBe(403);
  });

  it('signs in and out with the session cookie', async () => {
    const { cookie, csrfToken, setCookie } = await signIn('Admin', stack.admin.password);
    expect(setCookie).toMatch(/^gp_session=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).not.toContain('Secure'); // plain HTTP on loopback
    const session = await call('GET', '/api/session', { cookie });
    expect(await session.json()).toEqual({
      user: { username: 'admin', role: 'admin' },
      csrfToken,
    });
    expect((await call('GET', '/api/meters', { cookie })).status).toBe(200);

    expect((await call('DELETE', '/api/session', { cookie })).status).toBe(403); // no CSRF token
    const out = await call('DELETE', '/api/session', { cookie, 'x-csrf-token': csrfToken });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^gp_session=;/);
    expect((await call('GET', '/api/meters', { cookie })).status).toBe(401);
    expect(await (await call('GET', '/api/session', { cookie })).json()).toEqual({
      user: null,
      csrfToken: null,
    });
  });

  it('signs in a user whose password the CLI set from stdin; the old password stops working', async () => {
    const password = 'chosen and piped in, 2026';
    const child = spawn(
      process.execPath,
      [
        programPath('presence-service'),
        'users',
        'passwd',
        'vera',
        '--password-stdin',
        '--config',
        stack.serviceConfigFile,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stdin.end(`${password}\n`);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(stdout).toBe(''); // a password the user chose is not printed back
    expect((await signIn('vera', password)).user.role).toBe('viewer');
    const old = await call('POST', '/api/session', {}, viewer);
    expect(old.status).toBe(401);
  });

  it('answers an unknown user and a wrong password alike, and refuses a brute force with 429', async () => {
    const wrong = await call('POST', '/api/session', {}, { username: 'otto', password: 'guess 0' });
    const unknown = await call('POST', '/api/session', {}, { username: 'nobody', password: 'x' });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        error: { code: 'sign-in-failed', message: 'wrong username or password' },
      });
    }
    // Five failures for a username within 15 min; the next attempt is refused unchecked.
    for (let i = 1; i < 5; i++) {
      const res = await call(
        'POST',
        '/api/session',
        {},
        { username: 'otto', password: `guess ${i}` },
      );
      expect(res.status).toBe(401);
    }
    const refused = await call('POST', '/api/session', {}, { username: 'otto', password: 'x' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'too-many-attempts',
    );
    // The throttle is on sign-in only: otto's API token still works.
    const bearer = { authorization: `Bearer ${operatorToken}` };
    expect((await call('GET', '/api/stats', bearer)).status).toBe(200);
  });
});
