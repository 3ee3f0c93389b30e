import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fastHi, installFastScram, scramBitops } from '../../src/xmpp/workarounds/fast-scram.js';

// RFC 6070 §2 test vector: PBKDF2-HMAC-SHA1("password", "salt", 4096, 20).
const VECTOR = '4b007901b765489abead49d926f721d065a429c1';
const salt = new TextEncoder().encode('salt');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('workaround: SCRAM Hi() with one PBKDF2 call', () => {
  afterEach(() => vi.restoreAllMocks());

  it('patches the copy of the mechanism that @xmpp/sasl-scram-sha-1 loads', () => {
    const require = createRequire(import.meta.url);
    const fromXmpp = createRequire(require.resolve('@xmpp/sasl-scram-sha-1'));
    const mechanismDir = dirname(fromXmpp.resolve('sasl-scram-sha-1'));
    const imported = fileURLToPath(import.meta.resolve('sasl-scram-sha-1/lib/bitops.js'));
    expect(imported).toBe(join(mechanismDir, 'lib', 'bitops.js'));
  });

  it('the library computes Hi with one WebCrypto call per iteration; after the workaround, none', async () => {
    const bitops = scramBitops();
    const sign = vi.spyOn(globalThis.crypto.subtle, 'sign');

    const before = await bitops.Hi('password', salt, 4096);
    expect(hex(before)).toBe(VECTOR);
    expect(sign.mock.calls.length).toBeGreaterThanOrEqual(4096);

    sign.mockClear();
    installFastScram();
    const after = await bitops.Hi('password', salt, 4096);
    expect(hex(after)).toBe(VECTOR);
    expect(sign).not.toHaveBeenCalled();
    expect(bitops.Hi).toBe(fastHi);
  });
});
