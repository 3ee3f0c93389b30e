import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// Passwords and bearer secrets (docs/http-auth.md). Passwords are stored as scrypt hashes in the
// format migration 6 names, `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`; session and API tokens
// are 32 random bytes the client holds, of which only the SHA-256 is stored.

/** scrypt cost: N = 2^15, r = 8, p = 1 (OWASP's minimum for scrypt), 32-byte key. */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, keyLength: 32, saltBytes: 16 } as const;

/** What a password must be: long enough to resist guessing, short enough to hash cheaply. */
export const PASSWORD_RULES = { minLength: 12, maxLength: 256 } as const;

/** Bytes of randomness in a session or API token (base64url: 43 characters). */
const TOKEN_BYTES = 32;

/** A stored hash names its own cost; refuse absurd ones rather than let a bad row tie up a CPU. */
const MAX_N = 2 ** 20;

/** scrypt needs 128·N·r bytes; Node refuses above 32 MiB unless told, and N = 2^15 needs 32 MiB. */
function maxmemFor(N: number, r: number): number {
  return 128 * N * r * 2;
}

export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyLength, saltBytes } = SCRYPT_PARAMS;
  const salt = randomBytes(saltBytes);
  const key = await deriveKey(password, salt, keyLength, N, r, p);
  return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

/**
 * Whether `password` matches `stored`, compared in constant time. A malformed stored value is a
 * mismatch, after the same work as a real one.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  const target = parsed ?? parseHash(DUMMY_HASH);
  if (!target) return false;
  const key = await deriveKey(
    password,
    target.salt,
    target.key.length,
    target.N,
    target.r,
    target.p,
  );
  return parsed !== undefined && timingSafeEqual(key, target.key);
}

/**
 * Verified against when the username is unknown, so that "no such user" costs what "wrong
 * password" costs and the answer time does not tell which usernames exist. Its password is
 * random and thrown away: nothing matches it.
 */
export const DUMMY_HASH = [
  'scrypt',
  SCRYPT_PARAMS.N,
  SCRYPT_PARAMS.r,
  SCRYPT_PARAMS.p,
  randomBytes(SCRYPT_PARAMS.saltBytes).toString('base64'),
  randomBytes(SCRYPT_PARAMS.keyLength).toString('base64'),
].join('$');

/** A strong password for a person to copy: 18 random bytes, 24 base64url characters. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Why `password` is not acceptable, or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_RULES.minLength) {
    return `a password needs at least ${PASSWORD_RULES.minLength} characters`;
  }
  if (password.length > PASSWORD_RULES.maxLength) {
    return `a password may have at most ${PASSWORD_RULES.maxLength} characters`;
  }
  return null;
}

/** A fresh session or API token: what the client holds. */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** What is stored of a token: its SHA-256, hex. A token is random, so no salt or stretching. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Constant-time equality for a secret the caller sends (the CSRF header): both sides are hashed
 * first, so neither their contents nor their lengths show in the time taken.
 */
export function secretsEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest();
  const right = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(left, right);
}

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const valid =
    Number.isInteger(N) &&
    N > 1 &&
    N <= MAX_N &&
    (N & (N - 1)) === 0 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= 32 &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= 16;
  if (!valid) return undefined;
  const salt = Buffer.from(parts[4] as string, 'base64');
  const key = Buffer.from(parts[5] as string, 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 128) return undefined;
  return { N, r, p, salt, key };
}

function deriveKey(
  password: string,
  salt: Buffer,
  keyLength: number,
  N: number,
  r: number,
  p: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
      salt,
      keyLength,
      { N, r, p, maxmem: maxmemFor(N, r) },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}
