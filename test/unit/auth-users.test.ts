import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AccessControl,
  createAccessControl,
  registerAccessControl,
} from '../../presence-service/auth/access-control.js';
import { AuthError } from '../../presence-service/auth/auth-error.js';
import { verifyPassword } from '../../presence-service/auth/passwords.js';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';

// Users and API tokens (docs/http-auth.md): the stores' rules (unique names, the last admin,
// revocation, expiry) and the admin API over them, with a user's own tokens as the exception.

describe('user and token stores', () => {
  let db: Database;
  let access: AccessControl;
  let clock: Date;

  beforeEach(() => {
    db = openDatabase(':memory:');
    clock = new Date('2026-11-27T08:00:00.000Z');
    access = createAccessControl({ db, now: () => clock });
  });
  afterEach(() => db.close());

  const add = (username: string, role: 'viewer' | 'operator' | 'admin') =>
    access.users.add({ username, role, passwordHash: 'unusable' });
  const codeOf = (work: () => unknown) => {
    try {
      work();
    } catch (error) {
      if (error instanceof AuthError) return error.code;
      throw error;
    }
    return 'no error';
  };

  it('keeps usernames unique regardless of case, and checks their form', () => {
    add('Alice', 'viewer');
    expect(codeOf(() => add('alice', 'operator'))).toBe('user-exists');
    expect(codeOf(() => add('no spaces', 'viewer'))).toBe('bad-request');
    expect(codeOf(() => add('-dash-first', 'viewer'))).toBe('bad-request');
    expect(access.users.get('ALICE')?.username).toBe('Alice');
  });

  it('never removes or demotes the last admin', () => {
    add('root', 'admin');
    expect(codeOf(() => access.users.remove('root'))).toBe('last-admin');
    expect(codeOf(() => access.users.setRole('root', 'operator'))).toBe('last-admin');
    add('second', 'admin');
    access.users.setRole('root', 'operator');
    expect(codeOf(() => access.users.remove('second'))).toBe('last-admin');
    access.users.remove('root');
    expect(access.users.list().map((u) => u.username)).toEqual(['second']);
  });

  it('removes a user with their sessions and tokens', () => {
    const bob = add('bob', 'viewer');
    add('root', 'admin');
    const { token } = access.tokens.create(bob.id, { label: 'x' });
    access.sessions.create(bob.id);
    access.users.remove('bob');
    expect(access.tokens.authenticate(token)).toBeUndefined();
    expect(db.prepare('SELECT count(*) FROM sessions').pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM api_tokens').pluck().get()).toBe(0);
  });

  it('authenticates a token until it is revoked or expires, with the user’s current role', () => {
    const bob = add('bob', 'viewer');
    add('root', 'admin');
    const forever = access.tokens.create(bob.id, { label: 'scraper' });
    const week = access.tokens.create(bob.id, { label: 'temp', expiresInDays: 7 });
    expect(forever.record).toMatchObject({
      username: 'bob',
      label: 'scraper',
      prefix: forever.token.slice(0, 8),
      expiresAt: null,
      revokedAt: null,
    });
    expect(access.tokens.authenticate(week.token)).toMatchObject({
      username: 'bob',
      role: 'viewer',
    });
    access.users.setRole('bob', 'operator');
    expect(access.tokens.authenticate(forever.token)?.role).toBe('operator');
    clock = new Date(clock.getTime() + 7 * 86_400_000);
    expect(access.tokens.authenticate(week.token)).toBeUndefined();
    expect(access.tokens.authenticate(forever.token)).toBeDefined();
    access.tokens.revoke(forever.record.id);
    expect(access.tokens.authenticate(forever.token)).toBeUndefined();
    expect(access.tokens.get(forever.record.id)?.revokedAt).toBe(clock.toISOString());
    expect(access.tokens.get(forever.record.id)?.lastUsedAt).not.toBeNull();
    expect(codeOf(() => access.tokens.revoke(99))).toBe('token-unknown');
    // The database has the hash, never the token.
    const stored = db.prepare('SELECT token_hash FROM api_tokens').pluck().all() as string[];
    expect(stored.join()).not.toContain(forever.token);
  });
});

describe('users and tokens API', () => {
  let db: Database;
  let access: AccessControl;
  let app: FastifyInstance;
  const bearer: Record<string, { authorization: string }> = {};

  beforeEach(async () => {
    db = openDatabase(':memory:');
    access = createAccessControl({ db });
    for (const [username, role] of [
      ['root', 'admin'],
      ['olga', 'operator'],
      ['vic', 'viewer'],
    ] as const) {
      const user = access.users.add({ username, role, passwordHash: 'unusable' });
      const { token } = access.tokens.create(user.id, { label: `${username}'s` });
      bearer[username] = { authorization: `Bearer ${token}` };
    }
    app = Fastify();
    installErrorHandlers(app);
    registerAccessControl(app, access);
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    db.close();
  });

  const call = (
    as: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: object,
  ) => app.inject({ method, url, headers: bearer[as], ...(payload && { payload }) });

  it('is for admins only', async () => {
    for (const as of ['olga', 'vic']) {
      expect((await call(as, 'GET', '/api/users')).statusCode).toBe(403);
      expect(
        (await call(as, 'POST', '/api/users', { username: 'x', role: 'viewer' })).statusCode,
      ).toBe(403);
      expect((await call(as, 'POST', '/api/tokens', { label: 'mine' })).statusCode).toBe(403);
    }
    const list = await call('root', 'GET', '/api/users');
    expect(
      list.json().users.map((u: { username: string; role: string }) => [u.username, u.role]),
    ).toEqual([
      ['olga', 'operator'],
      ['root', 'admin'],
      ['vic', 'viewer'],
    ]);
    expect(JSON.stringify(list.json())).not.toContain('unusable');
  });

  it('adds a user with a generated password, shown once, or with the given one', async () => {
    const made = await call('root', 'POST', '/api/users', { username: 'nina', role: 'operator' });
    expect(made.statusCode).toBe(201);
    const { user, password } = made.json();
    expect(user).toMatchObject({ username: 'nina', role: 'operator' });
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const stored = access.users.passwordHashOf('nina');
    expect(await verifyPassword(password, stored?.passwordHash ?? '')).toBe(true);

    const given = await call('root', 'POST', '/api/users', {
      username: 'otto',
      role: 'viewer',
      password: 'chosen by otto!',
    });
    expect(given.statusCode).toBe(201);
    expect(given.json().password).toBeUndefined();

    expect(
      (await call('root', 'POST', '/api/users', { username: 'NINA', role: 'viewer' })).json().error
        .code,
    ).toBe('user-exists');
    const short = await call('root', 'POST', '/api/users', {
      username: 'p',
      role: 'viewer',
      password: 'short',
    });
    expect(short.statusCode).toBe(400);
    expect(short.json().error.message).toContain("'password'");
    expect(
      (await call('root', 'POST', '/api/users', { username: 'q', role: 'root' })).statusCode,
    ).toBe(400);
  });

  it('changes role and password, and refuses to remove or demote the last admin', async () => {
    const promoted = await call('root', 'PATCH', '/api/users/vic', { role: 'operator' });
    expect(promoted.json().user).toMatchObject({ username: 'vic', role: 'operator' });
    const newPassword = await call('root', 'PATCH', '/api/users/vic', {
      password: 'a brand new one',
    });
    expect(newPassword.statusCode).toBe(200);
    expect(newPassword.json().user.passwordChangedAt).toBeDefined();
    expect((await call('root', 'PATCH', '/api/users/vic', {})).statusCode).toBe(400);
    expect(
      (await call('root', 'PATCH', '/api/users/zed', { role: 'viewer' })).json().error.code,
    ).toBe('user-unknown');

    const demote = await call('root', 'PATCH', '/api/users/root', { role: 'viewer' });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().error.code).toBe('last-admin');
    const remove = await call('root', 'DELETE', '/api/users/root');
    expect(remove.statusCode).toBe(409);
    expect(remove.json().error.code).toBe('last-admin');
    expect((await call('root', 'DELETE', '/api/users/olga')).statusCode).toBe(204);
    expect((await call('root', 'DELETE', '/api/users/olga')).statusCode).toBe(404);
    // Olga's token went with her.
    expect((await call('olga', 'GET', '/api/meters')).statusCode).toBe(401);
  });

  it('makes tokens (shown once) and revokes them', async () => {
    const made = await call('root', 'POST', '/api/tokens', {
      label: 'prometheus',
      username: 'vic',
      expiresInDays: 30,
    });
    expect(made.statusCode).toBe(201);
    const body = made.json();
    expect(body).toMatchObject({ username: 'vic', label: 'prometheus', revokedAt: null });
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const headers = { authorization: `Bearer ${body.token}` };
    expect((await app.inject({ url: '/api/tokens', headers })).statusCode).toBe(200);

    const listed = (await call('root', 'GET', '/api/tokens?username=vic')).json().tokens;
    expect(listed.map((t: { label: string }) => t.label)).toEqual(['prometheus', "vic's"]);
    expect(JSON.stringify(listed)).not.toContain(body.token);

    expect((await call('root', 'DELETE', `/api/tokens/${body.id}`)).statusCode).toBe(204);
    expect((await app.inject({ url: '/api/tokens', headers })).statusCode).toBe(401);
    expect((await call('root', 'DELETE', '/api/tokens/999')).statusCode).toBe(404);
  });

  it("lets anyone list and revoke their own tokens, and nobody else's", async () => {
    const vicsToken = access.tokens.create(access.users.get('vic')?.id ?? 0, { label: 'spare' });
    const rootsTokens = (await call('root', 'GET', '/api/tokens?username=root')).json().tokens;

    const own = (await call('vic', 'GET', '/api/tokens?username=root')).json().tokens;
    expect(own.map((t: { username: string }) => t.username)).toEqual(['vic', 'vic']);
    const others = await call('vic', 'DELETE', `/api/tokens/${rootsTokens[0].id}`);
    expect(others.statusCode).toBe(404);
    expect(others.json().error.code).toBe('token-unknown');
    expect((await call('vic', 'DELETE', `/api/tokens/${vicsToken.record.id}`)).statusCode).toBe(
      204,
    );
    expect(access.tokens.authenticate(vicsToken.token)).toBeUndefined();
    expect((await call('root', 'GET', '/api/users')).statusCode).toBe(200);
  });
});
