import type { FastifyInstance } from 'fastify';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AccessControl,
  createAccessControl,
} from '../../presence-service/auth/access-control.js';
import { hashPassword } from '../../presence-service/auth/passwords.js';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';

// Sessions (docs/http-auth.md "Sessions"): sign-in, the cookie's attributes, one answer for an
// unknown user and a wrong password, brute-force refusals, sign-out, and the ends of a session
// (idle, absolute, password change), on a clock the test moves.

const PASSWORD = 'a long enough password';
const MIN = 60_000;

describe('sessions', () => {
  let passwordHash: string;
  let db: Database;
  let clock: Date;
  let access: AccessControl;
  let app: FastifyInstance;

  beforeAll(async () => {
    passwordHash = await hashPassword(PASSWORD);
  });

  beforeEach(async () => {
    db = openDatabase(':memory:');
    clock = new Date('2026-11-27T08:00:00.000Z');
    access = createAccessControl({
      db,
      sessionIdleMin: 60,
      sessionMaxHours: 12,
      throttle: { delayStepMs: 1, maxDelayMs: 5 },
      now: () => clock,
    });
    access.users.add({ username: 'Alice', role: 'operator', passwordHash });
    app = buildHttpApi({
      auth: access,
      server: { trustProxy: true },
      registry: createMeterRegistry({ db }),
      store: createPresenceStore({ db }),
      bus: createChangeBus(),
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
    });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    db.close();
  });

  const advance = (ms: number) => {
    clock = new Date(clock.getTime() + ms);
  };
  const signIn = (username: string, password: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/api/session', payload: { username, password }, headers });
  const stats = (cookie: string) => app.inject({ url: '/api/stats', headers: { cookie } });
  const cookieOf = (res: { cookies: Array<{ name: string; value: string }> }) =>
    `gp_session=${res.cookies.find((c) => c.name === 'gp_session')?.value}`;

  it('signs in with the cookie and the CSRF token, case-insensitively on the username', async () => {
    const res = await signIn('alice', PASSWORD);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.user).toEqual({ username: 'Alice', role: 'operator' });
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^gp_session=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    expect(setCookie).not.toContain('Secure');

    const cookie = cookieOf(res);
    expect((await stats(cookie)).statusCode).toBe(200);
    const again = await app.inject({ url: '/api/session', headers: { cookie } });
    expect(again.json()).toEqual(body);
    // Only the hash of the token is stored.
    const token = cookie.split('=')[1] as string;
    const stored = db.prepare('SELECT token_hash FROM sessions').pluck().all() as string[];
    expect(stored).toHaveLength(1);
    expect(stored[0]).not.toContain(token);
  });

  it('marks the cookie Secure when the request came over HTTPS (through a trusted proxy)', async () => {
    const res = await signIn('alice', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(String(res.headers['set-cookie'])).toContain('Secure');
  });

  it('gives the same answer for an unknown user and a wrong password', async () => {
    const wrong = await signIn('alice', 'not the password');
    const unknown = await signIn('mallory', PASSWORD);
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: { code: 'sign-in-failed', message: 'wrong username or password' },
      });
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('refuses further attempts with 429 and Retry-After; success resets the username', async () => {
    for (let i = 0; i < 4; i++) expect((await signIn('alice', `guess ${i}`)).statusCode).toBe(401);
    expect((await signIn('alice', PASSWORD)).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await signIn('alice', `guess ${i}`)).statusCode).toBe(401);
    const refused = await signIn('alice', PASSWORD);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('too-many-attempts');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    advance(15 * MIN);
    expect((await signIn('alice', PASSWORD)).statusCode).toBe(200);
  });

  it('signs out: the session ends and the cookie is cleared', async () => {
    const res = await signIn('alice', PASSWORD);
    const cookie = cookieOf(res);
    const csrf = res.json().csrfToken;
    const noCsrf = await app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } });
    expect(noCsrf.statusCode).toBe(403);
    const out = await app.inject({
      method: 'DELETE',
      url: '/api/session',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^gp_session=;/);
    expect((await stats(cookie)).statusCode).toBe(401);
    const after = await app.inject({ url: '/api/session', headers: { cookie } });
    expect(after.json()).toEqual({ user: null, csrfToken: null });
  });

  it('ends a session idle for sessionIdleMin', async () => {
    const cookie = cookieOf(await signIn('alice', PASSWORD));
    advance(59 * MIN);
    expect((await stats(cookie)).statusCode).toBe(200); // use keeps it alive
    advance(59 * MIN);
    expect((await stats(cookie)).statusCode).toBe(200);
    advance(61 * MIN);
    expect((await stats(cookie)).statusCode).toBe(401);
  });

  it('ends a session sessionMaxHours after sign-in, however busy', async () => {
    const cookie = cookieOf(await signIn('alice', PASSWORD));
    for (let i = 0; i < 23; i++) {
      advance(30 * MIN);
      expect((await stats(cookie)).statusCode, `after ${(i + 1) / 2} h`).toBe(200);
    }
    advance(30 * MIN);
    expect((await stats(cookie)).statusCode).toBe(401);
  });

  it('ends every session of a user whose password changes', async () => {
    const first = cookieOf(await signIn('alice', PASSWORD));
    const second = cookieOf(await signIn('alice', PASSWORD));
    advance(1000);
    access.users.setPassword('alice', await hashPassword('another long password'));
    expect((await stats(first)).statusCode).toBe(401);
    expect((await stats(second)).statusCode).toBe(401);
    expect((await signIn('alice', 'another long password')).statusCode).toBe(200);
  });

  it('starts a new session at each sign-in and ends the one the browser had', async () => {
    const old = cookieOf(await signIn('alice', PASSWORD));
    const fresh = await signIn('alice', PASSWORD, { cookie: old });
    expect(cookieOf(fresh)).not.toBe(old);
    expect((await stats(old)).statusCode).toBe(401);
    expect((await stats(cookieOf(fresh))).statusCode).toBe(200);
  });

  it('sweeps expired sessions from the database at sign-in', async () => {
    await signIn('alice', PASSWORD);
    await signIn('alice', PASSWORD);
    advance(13 * 60 * MIN);
    await signIn('alice', PASSWORD);
    expect(db.prepare('SELECT count(*) FROM sessions').pluck().get()).toBe(1);
  });
});
