import { describe, expect, it } from 'vitest';
import { createBackoff, minimumDelayMs } from '../../src/xmpp/backoff.js';

describe('jittered exponential backoff', () => {
  it('doubles up to the cap and never goes below half of the step', () => {
    const options = { baseMs: 1000, maxMs: 8000 };
    const low = createBackoff({ ...options, random: () => 0 });
    const high = createBackoff({ ...options, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([500, 1000, 2000, 4000, 4000]);
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(minimumDelayMs(options, 3)).toBe(2000);
  });

  it('spreads clients out and starts again after a reset', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const backoff = createBackoff({ baseMs: 1000, maxMs: 60_000, random });
    const delays = new Set(
      Array.from({ length: 20 }, () =>
        createBackoff({ baseMs: 1000, maxMs: 60_000, random }).next(),
      ),
    );
    expect(delays.size).toBeGreaterThan(15);
    backoff.next();
    backoff.next();
    expect(backoff.attempts).toBe(2);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBeLessThanOrEqual(1000);
  });
});
