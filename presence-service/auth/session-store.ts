import type { Role } from '../../src/protocol/commands.js';
import type { Database } from '../store/database.js';
import { generateToken, hashToken } from './passwords.js';

// Sign-in sessions of the dashboard (docs/http-auth.md "Sessions"). The browser holds the token
// in the gp_session cookie; the database holds its SHA-256 only, so a copy of the database signs
// nobody in. A session ends after `idleMin` without a request, `maxHours` after sign-in, when the
// user signs out, and when the user's password changes. Expired rows are swept at each sign-in.

export const SESSION_DEFAULTS = { idleMin: 60, maxHours: 12 } as const;

/** last_seen_at is written at most this often per session: a busy dashboard is not a write load. */
const TOUCH_EVERY_MS = 30_000;

export interface SessionUser {
  userId: number;
  username: string;
  role: Role;
}

export interface Session extends SessionUser {
  /** The double-submit value the dashboard sends back in X-CSRF-Token on every change. */
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  /** The absolute end; the idle end may come first. */
  expiresAt: string;
}

export interface SessionStore {
  /** A new session: `token` goes into the cookie and is not kept anywhere. */
  create(
    userId: number,
    client?: { remoteAddr?: string; userAgent?: string },
  ): { token: string; session: Session };
  /** The live session for a cookie's token, marked as used now; undefined if none or expired. */
  lookup(token: string): Session | undefined;
  /** Ends the session of that token (sign-out); true if there was one. */
  revoke(token: string): boolean;
  /** Ends every session of a user. */
  revokeUser(userId: number): number;
  /** Deletes expired sessions; returns how many. */
  sweep(): number;
}

interface SessionRow extends Session {
  passwordChangedAt: string;
}

export function createSessionStore({
  db,
  idleMin = SESSION_DEFAULTS.idleMin,
  maxHours = SESSION_DEFAULTS.maxHours,
  now = () => new Date(),
}: {
  db: Database;
  idleMin?: number;
  maxHours?: number;
  /** The clock (STYLE §7: tests move it past the idle and absolute limits). */
  now?: () => Date;
}): SessionStore {
  const idleMs = idleMin * 60_000;
  const maxMs = maxHours * 3_600_000;

  const insert = db.prepare(`
    INSERT INTO sessions
      (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, remote_addr, user_agent)
    VALUES (@tokenHash, @userId, @csrfToken, @at, @at, @expiresAt, @remoteAddr, @userAgent)`);
  const select = db.prepare(`
    SELECT s.user_id AS userId, u.username, u.role, s.csrf_token AS csrfToken,
      s.created_at AS createdAt, s.last_seen_at AS lastSeenAt, s.expires_at AS expiresAt,
      u.password_changed_at AS passwordChangedAt
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = ?`);
  const touch = db.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?');
  const remove = db.prepare('DELETE FROM sessions WHERE token_hash = ?');
  const removeUser = db.prepare('DELETE FROM sessions WHERE user_id = ?');
  // Times are toISOString() UTC, so they compare as text.
  const removeExpired = db.prepare(
    'DELETE FROM sessions WHERE expires_at <= @now OR last_seen_at <= @idleCutoff',
  );

  const sweepAt = (at: Date): number =>
    removeExpired.run({
      now: at.toISOString(),
      idleCutoff: new Date(at.getTime() - idleMs).toISOString(),
    }).changes;

  return {
    create(userId, client = {}) {
      const at = now();
      sweepAt(at);
      const token = generateToken();
      const session = {
        tokenHash: hashToken(token),
        userId,
        csrfToken: generateToken(),
        at: at.toISOString(),
        expiresAt: new Date(at.getTime() + maxMs).toISOString(),
        remoteAddr: client.remoteAddr ?? null,
        // A header of the client's choosing: kept short.
        userAgent: client.userAgent?.slice(0, 256) ?? null,
      };
      insert.run(session);
      return { token, session: this.lookup(token) as Session };
    },
    lookup(token) {
      const tokenHash = hashToken(token);
      const row = select.get(tokenHash) as SessionRow | undefined;
      if (!row) return undefined;
      const at = now();
      const atMs = at.getTime();
      const expired =
        atMs >= Date.parse(row.expiresAt) ||
        // The absolute limit as configured now, should it have been shortened since sign-in.
        atMs >= Date.parse(row.createdAt) + maxMs ||
        atMs >= Date.parse(row.lastSeenAt) + idleMs ||
        // Belt and braces: setPassword deletes the sessions, but never trust one that predates it.
        row.createdAt < row.passwordChangedAt;
      if (expired) {
        remove.run(tokenHash);
        return undefined;
      }
      if (atMs - Date.parse(row.lastSeenAt) >= TOUCH_EVERY_MS) {
        row.lastSeenAt = at.toISOString();
        touch.run(row.lastSeenAt, tokenHash);
      }
      const { passwordChangedAt: _, ...session } = row;
      return session;
    },
    revoke(token) {
      return remove.run(hashToken(token)).changes > 0;
    },
    revokeUser(userId) {
      return removeUser.run(userId).changes;
    },
    sweep() {
      return sweepAt(now());
    },
  };
}
