import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import bitops from 'sasl-scram-sha-1/lib/bitops.js';

// WORKAROUND (XMPP-NOTES "xmpp.js / SASL"): the `sasl-scram-sha-1` package used by @xmpp/client
// computes Hi() (RFC 5802 §2.2, which is PBKDF2-HMAC-SHA-1) with one WebCrypto HMAC call per
// iteration: about 600 ms per login, and logins queue behind each other (4 logins/s from one
// process). node:crypto's pbkdf2 gives the same bytes in under 2 ms, off the event loop.
// Remove when the package computes Hi with a single PBKDF2 call.

const pbkdf2Async = promisify(pbkdf2);

type HiFunction = (text: string, salt: Uint8Array, iterations: number) => Promise<Uint8Array>;
interface ScramBitops {
  Hi: HiFunction;
}

/** RFC 5802 §2.2: Hi(str, salt, i) is PBKDF2 with HMAC-SHA-1 and an output of one block. */
export const fastHi: HiFunction = async (text, salt, iterations) =>
  new Uint8Array(await pbkdf2Async(text, salt, iterations, 20, 'sha1'));

/**
 * The module object whose `Hi` the SCRAM mechanism calls; exported for the test. Importing a
 * CommonJS file gives its module.exports: the very object the mechanism's own
 * require('./lib/bitops') returns (one module cache; the unit test checks it is the copy
 * @xmpp/sasl-scram-sha-1 loads). A static import, not a run-time require.resolve, so that the
 * single-file agent (`npm run build:agent`), which has no node_modules, carries it too.
 */
export function scramBitops(): ScramBitops {
  return bitops as ScramBitops;
}

export function installFastScram(): void {
  const mechanismBitops = scramBitops();
  if (mechanismBitops.Hi !== fastHi) mechanismBitops.Hi = fastHi;
}
