// Time for the polling scheduler, injected (STYLE §7) so a test can advance an hour of cron
// firings in a millisecond instead of waiting for them.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock. Its timers are unref'd: a pending poll must not keep the process alive once
 * everything else has stopped (the scheduler's stop() clears them anyway, STYLE §8).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    return setTimeout(fn, ms).unref();
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
