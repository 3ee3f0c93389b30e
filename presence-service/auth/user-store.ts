import { ROLES, type Role } from '../../src/protocol/commands.js';
import type { Database } from '../store/database.js';
import { AuthError } from './auth-error.js';

// The people (and programs) who may use the HTTP API, with their role (PROTOCOL §2 roles) and
// scrypt password hash (migration 6). Usernames are case-insensitive. At least one admin must
// remain, or nobody could manage users any more: removing or demoting the last one is refused.
// Changing a password ends the user's sessions. Hashing is async and done by the caller
// (passwords.ts); this store only keeps the result.

/** Letters, digits and `.`, `_`, `@`, `-`, starting with a letter or digit; up to 64. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface UserRecord {
  id: number;
  username: string;
  role: Role;
  createdAt: string;
  passwordChangedAt: string;
}

export interface UserStore {
  /** Throws `user-exists`, or `bad-request` for a username outside USERNAME_PATTERN. */
  add(user: { username: string; role: Role; passwordHash: string }): UserRecord;
  get(username: string): UserRecord | undefined;
  getById(id: number): UserRecord | undefined;
  /** The stored hash, for sign-in only. */
  passwordHashOf(username: string): { user: UserRecord; passwordHash: string } | undefined;
  list(): UserRecord[];
  /** Throws `user-unknown`, or `last-admin` when it would demote the last admin. */
  setRole(username: string, role: Role): UserRecord;
  /** Ends every session of the user. Throws `user-unknown`. */
  setPassword(username: string, passwordHash: string): UserRecord;
  /** Removes the user with their sessions and tokens. Throws `user-unknown` or `last-admin`. */
  remove(username: string): void;
  count(): number;
}

const COLUMNS = `id, username, role, created_at AS createdAt,
  password_changed_at AS passwordChangedAt`;

export function createUserStore({
  db,
  now = () => new Date(),
}: {
  db: Database;
  /** The clock (STYLE §7: injectable for tests). */
  now?: () => Date;
}): UserStore {
  const insert = db.prepare(`
    INSERT INTO users (username, role, password_hash, created_at, password_changed_at)
    VALUES (@username, @role, @passwordHash, @at, @at)`);
  const selectByName = db.prepare(`SELECT ${COLUMNS} FROM users WHERE username = ?`);
  const selectById = db.prepare(`SELECT ${COLUMNS} FROM users WHERE id = ?`);
  const selectHash = db.prepare(
    `SELECT ${COLUMNS}, password_hash AS passwordHash FROM users WHERE username = ?`,
  );
  const selectAll = db.prepare(`SELECT ${COLUMNS} FROM users ORDER BY username COLLATE NOCASE`);
  const countAdmins = db.prepare("SELECT count(*) FROM users WHERE role = 'admin'").pluck();
  const countAll = db.prepare('SELECT count(*) FROM users').pluck();
  const updateRole = db.prepare('UPDATE users SET role = ? WHERE id = ?');
  const updatePassword = db.prepare(
    'UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?',
  );
  const deleteSessions = db.prepare('DELETE FROM sessions WHERE user_id = ?');
  const deleteUser = db.prepare('DELETE FROM users WHERE id = ?');

  const find = (username: string): UserRecord => {
    const user = selectByName.get(username) as UserRecord | undefined;
    if (!user) throw new AuthError('user-unknown', `no user '${username}'`);
    return user;
  };
  const refuseLastAdmin = (user: UserRecord, what: string): void => {
    if (user.role === 'admin' && (countAdmins.get() as number) <= 1) {
      throw new AuthError(
        'last-admin',
        `'${user.username}' is the last admin: ${what} would leave nobody to manage users; make another admin first`,
      );
    }
  };
  // IMMEDIATE: the write lock is taken before the admin count is read, so two processes (the
  // service and the CLI) cannot each remove one of the last two admins.
  const inWriteTransaction = <T>(work: () => T): T => db.transaction(work).immediate();

  return {
    add({ username, role, passwordHash }) {
      if (!USERNAME_PATTERN.test(username)) {
        throw new AuthError(
          'bad-request',
          `username '${username}': letters, digits, '.', '_', '@' and '-', starting with a letter or digit, at most 64`,
        );
      }
      if (!ROLES.includes(role)) {
        throw new AuthError('bad-request', `role must be one of: ${ROLES.join(', ')}`);
      }
      return inWriteTransaction(() => {
        if (selectByName.get(username)) {
          throw new AuthError('user-exists', `a user '${username}' exists already`);
        }
        const at = now().toISOString();
        const { lastInsertRowid } = insert.run({ username, role, passwordHash, at });
        return selectById.get(lastInsertRowid) as UserRecord;
      });
    },
    get(username) {
      return selectByName.get(username) as UserRecord | undefined;
    },
    getById(id) {
      return selectById.get(id) as UserRecord | undefined;
    },
    passwordHashOf(username) {
      const row = selectHash.get(username) as (UserRecord & { passwordHash: string }) | undefined;
      if (!row) return undefined;
      const { passwordHash, ...user } = row;
      return { user, passwordHash };
    },
    list() {
      return selectAll.all() as UserRecord[];
    },
    setRole(username, role) {
      return inWriteTransaction(() => {
        const user = find(username);
        if (role !== 'admin') refuseLastAdmin(user, `making them ${role}`);
        updateRole.run(role, user.id);
        return selectById.get(user.id) as UserRecord;
      });
    },
    setPassword(username, passwordHash) {
      return inWriteTransaction(() => {
        const user = find(username);
        updatePassword.run(passwordHash, now().toISOString(), user.id);
        // Whoever held a session signed in with the old password; they sign in again.
        deleteSessions.run(user.id);
        return selectById.get(user.id) as UserRecord;
      });
    },
    remove(username) {
      inWriteTransaction(() => {
        const user = find(username);
        refuseLastAdmin(user, 'removing them');
        deleteUser.run(user.id);
      });
    },
    count() {
      return countAll.get() as number;
    },
  };
}
