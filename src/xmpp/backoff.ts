// Jittered exponential backoff for reconnects. xmpp.js reconnects after a fixed 1 s, which turns
// a server restart under thousands of meters into a reconnect storm (XMPP-NOTES "Reconnect").
// "Equal jitter": half of the exponential step is fixed, half random, so no client ever retries
// sooner than base·2ⁿ⁻¹/2 while the fleet still spreads out.
//
// When the server itself ended a session that held (it restarted, or closed every stream at
// once), the first retry may instead be spread over a wider window: RFC 6120 §3.3 says a client
// SHOULD wait an unpredictable 0-60 s before reconnecting, so that the whole fleet does not come
// back in the same second. Measured in issue 6 (BENCHMARKS.md, reconnect storm): with only the
// 0.5-1 s first step, 10,000 meters offered Prosody 5,000 logins in one second and most of them
// timed out.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** The window of the spread first retry (see above); 0 or undefined: no spread. */
  spreadMs?: number;
  /** Returns a number in [0, 1); injectable for tests. */
  random?: () => number;
}

export interface Backoff {
  /**
   * The delay before the next attempt; each call counts as one more failure. `spread`: the
   * server ended a session that held, so the first retry is drawn from the whole spread window.
   */
  next(spread?: boolean): number;
  /** Call after a connection that held: the next failure starts from the base again. */
  reset(): void;
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions): Backoff {
  const random = options.random ?? Math.random;
  const spreadMs = options.spreadMs ?? 0;
  let attempts = 0;
  return {
    next(spread = false) {
      if (spread && attempts === 0 && spreadMs > 0) {
        attempts = 1;
        return Math.round(random() * spreadMs);
      }
      const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempts);
      attempts += 1;
      const half = ceiling / 2;
      return Math.round(half + random() * half);
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}

/**
 * The smallest delay `next()` can return for the n-th attempt (1-based); used by tests and
 * benches. A spread first retry may be 0: pass `spread` for it.
 */
export function minimumDelayMs(options: BackoffOptions, attempt: number, spread = false): number {
  if (spread && attempt === 1 && (options.spreadMs ?? 0) > 0) return 0;
  return Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1)) / 2;
}
