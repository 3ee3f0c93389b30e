// PROTOCOL §2 (security): a token bucket per sender, so that nobody — in the ACL or not — can
// make the meter do unbounded work (commands, audit entries, replies). Each request takes one
// token; a bucket holds `burst` tokens and regains `refillPerS` per second.
// The buckets are bounded (STYLE §9): past `maxSenders` the least recently seen sender is
// forgotten, which only gives it a full bucket again.

export interface RateLimitSettings {
  burst: number;
  refillPerS: number;
  maxSenders: number;
}

export const DEFAULT_COMMAND_RATE_LIMIT: RateLimitSettings = {
  burst: 10,
  refillPerS: 1,
  maxSenders: 1024,
};

export type RateDecision =
  | {
      allowed: true;
      /** Requests refused in the run of refusals that just ended (0 if none). */
      refusedBefore: number;
    }
  | {
      allowed: false;
      /** When the next token is there. */
      retryAfterMs: number;
      /** 1 for the first refusal of a run, 2 for the next… (to answer and audit only once). */
      refusedInRow: number;
    };

export interface RateLimiter {
  /** Takes a token if there is one. */
  take(key: string): RateDecision;
  /** Whether a token is there, without taking it (for requests that cost nothing if granted). */
  peek(key: string): boolean;
}

interface Bucket {
  tokens: number;
  atMs: number;
  refusedInRow: number;
}

export function createRateLimiter(
  settings: RateLimitSettings = DEFAULT_COMMAND_RATE_LIMIT,
  nowMs: () => number = Date.now,
): RateLimiter {
  const { burst, refillPerS, maxSenders } = settings;
  if (!(burst >= 1) || !(refillPerS > 0) || !(maxSenders >= 1)) {
    throw new RangeError('rate limit: burst >= 1, refillPerS > 0 and maxSenders >= 1');
  }
  // A Map iterates in insertion order: re-inserting on use keeps the oldest first.
  const buckets = new Map<string, Bucket>();

  const refilled = (key: string): Bucket => {
    const now = nowMs();
    let bucket = buckets.get(key);
    if (bucket) {
      buckets.delete(key);
      const elapsedS = Math.max(0, now - bucket.atMs) / 1000;
      bucket.tokens = Math.min(burst, bucket.tokens + elapsedS * refillPerS);
      bucket.atMs = now;
    } else {
      bucket = { tokens: burst, atMs: now, refusedInRow: 0 };
      if (buckets.size >= maxSenders) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
    }
    buckets.set(key, bucket);
    return bucket;
  };

  return {
    peek: (key) => refilled(key).tokens >= 1,
    take(key) {
      const bucket = refilled(key);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        const refusedBefore = bucket.refusedInRow;
        bucket.refusedInRow = 0;
        return { allowed: true, refusedBefore };
      }
      bucket.refusedInRow += 1;
      return {
        allowed: false,
        retryAfterMs: Math.ceil(((1 - bucket.tokens) / refillPerS) * 1000),
        refusedInRow: bucket.refusedInRow,
      };
    },
  };
}
