import { describe, expect, it } from 'vitest';
import {
  DUMMY_HASH,
  generatePassword,
  generateToken,
  hashPassword,
  hashToken,
  passwordProblem,
  SCRYPT_PARAMS,
  secretsEqual,
  verifyPassword,
} from '../../presence-service/auth/passwords.js';

// Passwords (scrypt) and bearer secrets (docs/http-auth.md): the stored format, verification,
// the dummy hash an unknown user is checked against, and what is kept of a token.

describe('password hashing', () => {
  it('stores scrypt$N$r$p$salt$hash with a fresh 16-byte salt each time', async () => {
    const first = await hashPassword('correct horse battery');
    const second = await hashPassword('correct horse battery');
    const [scheme, N, r, p, salt, key] = first.split('$');
    expect([scheme, Number(N), Number(r), Number(p)]).toEqual(['scrypt', 2 ** 15, 8, 1]);
    expect(Buffer.from(salt as string, 'base64')).toHaveLength(SCRYPT_PARAMS.saltBytes);
    expect(Buffer.from(key as string, 'base64')).toHaveLength(SCRYPT_PARAMS.keyLength);
    expect(second).not.toBe(first);
    expect(first).not.toContain('correct horse');
  });

  it('verifies the right password only', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('treats the dummy hash and malformed values as a mismatch, never an error', async () => {
    expect(await verifyPassword('anything', DUMMY_HASH)).toBe(false);
    for (const bad of ['', 'unusable', 'scrypt$1$8$1$c2FsdA==$a2V5', 'bcrypt$x$y$z$a$b']) {
      expect(await verifyPassword('anything', bad)).toBe(false);
    }
    // A stored cost far above ours is refused, not computed (a bad row must not tie up a CPU).
    const huge = (await hashPassword('x'.repeat(12))).replace('$32768$', `$${2 ** 24}$`);
    expect(await verifyPassword('x'.repeat(12), huge)).toBe(false);
  });

  it('costs an unknown user (the dummy hash) what a wrong password costs', async () => {
    const stored = await hashPassword('correct horse battery');
    const time = async (hash: string) => {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await verifyPassword('a wrong guess', hash);
        runs.push(performance.now() - started);
      }
      return runs.sort((a, b) => a - b)[1] as number;
    };
    const wrong = await time(stored);
    const unknown = await time(DUMMY_HASH);
    // Both run scrypt at the same cost; generous bounds keep a busy machine from failing this.
    expect(unknown).toBeGreaterThan(wrong * 0.4);
    expect(unknown).toBeLessThan(wrong * 2.5);
  });

  it('generates strong passwords and checks the length rules', () => {
    const password = generatePassword();
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(generatePassword()).not.toBe(password);
    expect(passwordProblem(password)).toBeNull();
    expect(passwordProblem('short')).toMatch(/at least 12/);
    expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
  });
});

describe('tokens', () => {
  it('are 32 random bytes, base64url; only their SHA-256 is stored', () => {
    const token = generateToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(generateToken()).not.toBe(token);
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).toBe(hashToken(token));
  });

  it('compares secrets in constant time, whatever their lengths', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abd')).toBe(false);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
    expect(secretsEqual('', 'abc')).toBe(false);
  });
});
