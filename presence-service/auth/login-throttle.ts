// Brute-force protection for sign-in (docs/http-auth.md "Brute force"). Failed attempts are
// counted per username and per client address in a sliding window; at the limit further
// attempts are refused (429 with Retry-After) without a password being checked, and each failure
// is answered more slowly than the last. An attempt counts from the moment it starts, so a burst
// of parallel guesses cannot all slip in before the first failure is recorded; a success takes
// its own attempt back and clears the username's count. Per process, in memory, bounded.

export interface ThrottleOptions {
  windowMs: number;
  /** Failures for one username within the window; one more is refused. */
  maxPerUsername: number;
  /** Failures from one client address within the window (many usernames, one attacker). */
  maxPerAddress: number;
  /** The n-th failure of a username within the window is answered n × this late... */
  delayStepMs: number;
  /** ...but never later than this. */
  maxDelayMs: number;
  /** Usernames and addresses remembered; the least recently seen are forgotten first. */
  maxKeys: number;
}

export const THROTTLE_DEFAULTS: ThrottleOptions = {
  windowMs: 15 * 60_000,
  maxPerUsername: 5,
  maxPerAddress: 20,
  delayStepMs: 250,
  maxDelayMs: 2_000,
  maxKeys: 10_000,
};

export interface LoginAttempt {
  /** The password was right: the username starts afresh. */
  succeeded(): void;
  /** The password was wrong (or the user unknown): how long to wait before answering, ms. */
  failed(): number;
}

export type ThrottleDecision =
  | { allowed: true; attempt: LoginAttempt }
  | { allowed: false; retryAfterS: number };

export interface LoginThrottle {
  begin(username: string, address: string): ThrottleDecision;
}

export function createLoginThrottle(
  options: Partial<ThrottleOptions> = {},
  now: () => number = Date.now,
): LoginThrottle {
  const o = { ...THROTTLE_DEFAULTS, ...options };
  const byUsername = new SlidingWindows(o.windowMs, o.maxKeys);
  const byAddress = new SlidingWindows(o.windowMs, o.maxKeys);

  return {
    begin(username, address) {
      const at = now();
      const user = username.toLowerCase();
      const retryAfterMs = Math.max(
        byUsername.retryAfterMs(user, o.maxPerUsername, at),
        byAddress.retryAfterMs(address, o.maxPerAddress, at),
      );
      if (retryAfterMs > 0) return { allowed: false, retryAfterS: Math.ceil(retryAfterMs / 1000) };
      byUsername.add(user, at);
      byAddress.add(address, at);
      return {
        allowed: true,
        attempt: {
          succeeded() {
            byUsername.clear(user);
            byAddress.remove(address, at);
          },
          failed() {
            const failures = byUsername.count(user, now());
            return Math.min(o.delayStepMs * failures, o.maxDelayMs);
          },
        },
      };
    },
  };
}

/** Timestamps per key within the last `windowMs`; a Map kept in least-recently-used order. */
class SlidingWindows {
  private readonly windows = new Map<string, number[]>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
  ) {}

  count(key: string, at: number): number {
    return this.live(key, at).length;
  }

  /** 0 if another attempt is allowed; else how long until one is. */
  retryAfterMs(key: string, limit: number, at: number): number {
    const times = this.live(key, at);
    if (times.length < limit) return 0;
    // Allowed again once enough of the oldest have left the window to go below the limit.
    const freeing = times[times.length - limit] as number;
    return Math.max(1, freeing + this.windowMs - at);
  }

  add(key: string, at: number): void {
    const times = this.live(key, at);
    times.push(at);
    this.windows.delete(key);
    this.windows.set(key, times);
    if (this.windows.size > this.maxKeys) this.evict(at);
  }

  remove(key: string, at: number): void {
    const times = this.windows.get(key);
    const index = times?.indexOf(at) ?? -1;
    if (times && index !== -1) times.splice(index, 1);
  }

  clear(key: string): void {
    this.windows.delete(key);
  }

  private live(key: string, at: number): number[] {
    const times = this.windows.get(key) ?? [];
    const cutoff = at - this.windowMs;
    while (times.length > 0 && (times[0] as number) <= cutoff) times.shift();
    if (times.length === 0) this.windows.delete(key);
    return times;
  }

  /** STYLE §9: bounded. Expired keys go first, then the least recently used. */
  private evict(at: number): void {
    for (const key of [...this.windows.keys()]) this.live(key, at);
    for (const key of this.windows.keys()) {
      if (this.windows.size <= this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}
