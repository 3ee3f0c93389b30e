import type { Role } from '../../src/protocol/commands.js';
import type { Database } from '../store/database.js';
import { AuthError } from './auth-error.js';
import { generateToken, hashToken } from './passwords.js';

// API tokens for programs (docs/http-auth.md "API tokens"): `Authorization: Bearer <token>`,
// acting as the user they belong to, with that user's current role. The token is shown once,
// when it is made; the database keeps its SHA-256 and its first characters (so a person can tell
// tokens apart in a list). Revoked tokens stay listed, with when, for the record; removing the
// user removes their tokens.

/** Characters of the token kept in the clear: 48 of its 256 bits, enough to tell tokens apart. */
const PREFIX_CHARS = 8;

/** last_used_at is written at most this often per token: Prometheus scrapes every few seconds. */
const TOUCH_EVERY_MS = 60_000;

export const TOKEN_LIMITS = { labelChars: 100, maxDays: 3650 } as const;

export interface TokenRecord {
  id: number;
  username: string;
  label: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface TokenOwner {
  userId: number;
  username: string;
  role: Role;
  tokenId: number;
}

export interface TokenStore {
  /** A new token for the user; `token` is shown once and not kept. */
  create(
    userId: number,
    options: { label: string; expiresInDays?: number },
  ): { token: string; record: TokenRecord };
  /** Who a bearer token acts for, marked as used now; undefined if unknown, revoked or expired. */
  authenticate(token: string): TokenOwner | undefined;
  get(id: number): TokenRecord | undefined;
  /** Every token, or one user's, newest first. */
  list(filter?: { userId?: number }): TokenRecord[];
  /** Revokes a token; throws `token-unknown`. Revoking a revoked token changes nothing. */
  revoke(id: number): TokenRecord;
}

interface OwnerRow extends TokenOwner {
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const RECORD_COLUMNS = `t.id, u.username, t.label, t.prefix, t.created_at AS createdAt,
  t.last_used_at AS lastUsedAt, t.expires_at AS expiresAt, t.revoked_at AS revokedAt`;

export function createTokenStore({
  db,
  now = () => new Date(),
}: {
  db: Database;
  /** The clock (STYLE §7: injectable for tests). */
  now?: () => Date;
}): TokenStore {
  const insert = db.prepare(`
    INSERT INTO api_tokens (user_id, label, token_hash, prefix, created_at, expires_at)
    VALUES (@userId, @label, @tokenHash, @prefix, @createdAt, @expiresAt)`);
  const selectOwner = db.prepare(`
    SELECT t.id AS tokenId, t.user_id AS userId, u.username, u.role, t.expires_at AS expiresAt,
      t.revoked_at AS revokedAt, t.last_used_at AS lastUsedAt
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = ?`);
  const selectOne = db.prepare(
    `SELECT ${RECORD_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`,
  );
  const selectAll = db.prepare(
    `SELECT ${RECORD_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id DESC`,
  );
  const selectOfUser = db.prepare(
    `SELECT ${RECORD_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.user_id = ? ORDER BY t.id DESC`,
  );
  const touch = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  const markRevoked = db.prepare(
    'UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  );

  const get = (id: number) => selectOne.get(id) as TokenRecord | undefined;

  return {
    create(userId, { label, expiresInDays }) {
      const trimmed = label.trim();
      if (trimmed === '' || trimmed.length > TOKEN_LIMITS.labelChars) {
        throw new AuthError(
          'bad-request',
          `a token label has 1 to ${TOKEN_LIMITS.labelChars} characters`,
        );
      }
      if (
        expiresInDays !== undefined &&
        !(expiresInDays > 0 && expiresInDays <= TOKEN_LIMITS.maxDays)
      ) {
        throw new AuthError(
          'bad-request',
          `expiresInDays must be more than 0 and at most ${TOKEN_LIMITS.maxDays}`,
        );
      }
      const at = now();
      const token = generateToken();
      const { lastInsertRowid } = insert.run({
        userId,
        label: trimmed,
        tokenHash: hashToken(token),
        prefix: token.slice(0, PREFIX_CHARS),
        createdAt: at.toISOString(),
        expiresAt:
          expiresInDays === undefined
            ? null
            : new Date(at.getTime() + expiresInDays * 86_400_000).toISOString(),
      });
      return { token, record: get(Number(lastInsertRowid)) as TokenRecord };
    },
    authenticate(token) {
      const row = selectOwner.get(hashToken(token)) as OwnerRow | undefined;
      if (!row || row.revokedAt !== null) return undefined;
      const at = now();
      if (row.expiresAt !== null && at.getTime() >= Date.parse(row.expiresAt)) return undefined;
      if (row.lastUsedAt === null || at.getTime() - Date.parse(row.lastUsedAt) >= TOUCH_EVERY_MS) {
        touch.run(at.toISOString(), row.tokenId);
      }
      return { tokenId: row.tokenId, userId: row.userId, username: row.username, role: row.role };
    },
    get,
    list(filter = {}) {
      return (
        filter.userId === undefined ? selectAll.all() : selectOfUser.all(filter.userId)
      ) as TokenRecord[];
    },
    revoke(id) {
      const record = get(id);
      if (!record) throw new AuthError('token-unknown', `no API token ${id}`);
      markRevoked.run(now().toISOString(), id);
      return get(id) as TokenRecord;
    },
  };
}
