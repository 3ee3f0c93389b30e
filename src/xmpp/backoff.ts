// Jittered exponential backoff for reconnects. xmpp.js reconnects after a fixed 1 s, which turns
// a server restart under thousands of meters into a reconnect storm (XMPP-NOTES "Reconnect").
// "Equal jitter": half of the exponential step is fixed, half random, so no client ever retries
// sooner than base·2ⁿ⁻¹/2 while the fleet still spreads out.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Returns a number in [0, 1); injectable for tests. */
  random?: () => number;
}

export interface Backoff {
  /** The delay before the next attempt; each call counts as one more failure. */
  next(): number;
  /** Call after a connection that held: the next failure starts from the base again. */
  reset(): void;
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions): Backoff {
  const random = options.random ?? Math.random;
  let attempts = 0;
  return {
    next() {
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

/** The smallest delay `next()` can return for the n-th attempt (1-based); used by tests and benches. */
export function minimumDelayMs(options: BackoffOptions, attempt: number): number {
  return Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1)) / 2;
}
