import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../presence-service/auth/passwords.js';
import { createTokenStore, type TokenStore } from '../../presence-service/auth/token-store.js';
import { createUserStore, type UserStore } from '../../presence-service/auth/user-store.js';
import { runUsersCommand } from '../../presence-service/cli/users-command.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { EXIT } from '../../src/errors.js';

// `presence-service users …` against an in-memory database: secrets on stdout once, everything
// else on stderr, passwords from stdin or generated, the last admin kept, usage errors exit 2.

describe('presence-service users', () => {
  let db: Database;
  let users: UserStore;
  let tokens: TokenStore;
  let out: string[];
  let err: string[];
  let stdin: string;

  beforeEach(() => {
    db = openDatabase(':memory:');
    users = createUserStore({ db });
    tokens = createTokenStore({ db });
    out = [];
    err = [];
    stdin = '';
  });
  afterEach(() => db.close());

  const run = (...argv: string[]) =>
    runUsersCommand(argv, {
      users,
      tokens,
      readStdin: async () => stdin,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    });

  it('adds a user with a generated password printed once on stdout', async () => {
    expect(await run('add', 'alice', '--role', 'admin')).toBe(EXIT.OK);
    expect(out).toHaveLength(1);
    const password = out[0] as string;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(err.join('\n')).toContain('added alice (admin)');
    const stored = users.passwordHashOf('alice');
    expect(stored?.user.role).toBe('admin');
    expect(await verifyPassword(password, stored?.passwordHash ?? '')).toBe(true);
  });

  it('takes a password from stdin, never from the command line', async () => {
    stdin = 'a password from a pipe';
    expect(await run('add', 'bob', '--password-stdin')).toBe(EXIT.OK);
    expect(out).toEqual([]);
    expect(users.get('bob')?.role).toBe('viewer');
    const stored = users.passwordHashOf('bob')?.passwordHash ?? '';
    expect(await verifyPassword('a password from a pipe', stored)).toBe(true);

    expect(await run('add', 'carol', '--password', 'on-the-command-line')).toBe(EXIT.CONFIG);
    stdin = 'short';
    expect(await run('add', 'carol', '--password-stdin')).toBe(EXIT.CONFIG);
    expect(err.join('\n')).toContain('at least 12 characters');
    expect(users.get('carol')).toBeUndefined();
  });

  it('sets a new password with passwd and ends the sessions', async () => {
    await run('add', 'dave', '--role', 'operator');
    const dave = users.get('dave');
    db.prepare(
      `INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
       VALUES ('h', ?, 'c', '2000-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z')`,
    ).run(dave?.id);
    out = [];
    expect(await run('passwd', 'dave')).toBe(EXIT.OK);
    expect(out).toHaveLength(1);
    expect(
      await verifyPassword(out[0] as string, users.passwordHashOf('dave')?.passwordHash ?? ''),
    ).toBe(true);
    expect(db.prepare('SELECT count(*) FROM sessions').pluck().get()).toBe(0);
    expect(await run('passwd', 'nobody')).toBe(EXIT.FAILURE);
    expect(err.at(-1)).toBe("presence-service users: no user 'nobody'");
  });

  it('makes an API token printed once', async () => {
    await run('add', 'prom', '--role', 'viewer');
    out = [];
    expect(await run('token', 'prom', '--label', 'prometheus', '--expires-days', '90')).toBe(
      EXIT.OK,
    );
    expect(out).toHaveLength(1);
    expect(tokens.authenticate(out[0] as string)).toMatchObject({
      username: 'prom',
      role: 'viewer',
    });
    expect(tokens.list()[0]).toMatchObject({ label: 'prometheus' });
    expect(tokens.list()[0]?.expiresAt).not.toBeNull();
    expect(await run('token', 'prom', '--expires-days', 'soon')).toBe(EXIT.CONFIG);
  });

  it('lists users and refuses to remove the last admin', async () => {
    await run('add', 'root', '--role', 'admin');
    await run('add', 'vic');
    out = [];
    expect(await run('list', '--json')).toBe(EXIT.OK);
    const listed = JSON.parse(out.join('\n')).users;
    expect(
      listed.map((u: { username: string; role: string }) => `${u.username}:${u.role}`),
    ).toEqual(['root:admin', 'vic:viewer']);
    expect(await run('remove', 'root')).toBe(EXIT.FAILURE);
    expect(err.at(-1)).toContain('last admin');
    expect(await run('remove', 'vic')).toBe(EXIT.OK);
    expect(users.get('vic')).toBeUndefined();
  });

  it('answers --help without a database and rejects bad input with exit 2', async () => {
    const helpOnly = (argv: string[]) =>
      runUsersCommand(argv, {
        out: (line: string) => out.push(line),
        err: (line: string) => err.push(line),
      } as never);
    expect(await helpOnly(['--help'])).toBe(EXIT.OK);
    expect(out.join('\n')).toContain('Usage: presence-service users');
    expect(await helpOnly(['token', '--help'])).toBe(EXIT.OK);
    expect(await run('add')).toBe(EXIT.CONFIG);
    expect(await run('add', 'x', '--role', 'root')).toBe(EXIT.CONFIG);
    expect(await run('add', 'bad name')).toBe(EXIT.CONFIG);
    expect(await run('frobnicate')).toBe(EXIT.CONFIG);
  });
});
