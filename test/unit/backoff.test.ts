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

describe('the spread first retry (RFC 6120 §3.3)', () => {
  const options = { baseMs: 1000, maxMs: 60_000, spreadMs: 60_000 };

  it('draws the first retry after a server-ended session from the whole window, then backs off', () => {
    const low = createBackoff({ ...options, random: () => 0 });
    const high = createBackoff({ ...options, random: () => 0.999999 });
    expect([low.next(true), low.next(true), low.next()]).toEqual([0, 1000, 2000]);
    expect([high.next(true), high.next(true), high.next()]).toEqual([60_000, 2000, 4000]);
    expect(minimumDelayMs(options, 1, true)).toBe(0);
    expect(minimumDelayMs(options, 2, true)).toBe(1000);
  });

  it('spreads only a first retry, and not at all without a window', () => {
    const failing = createBackoff({ ...options, random: () => 0.5 });
    expect(failing.next()).toBe(750);
    // A later failure is not a first retry: the exponential step goes on.
    expect(failing.next(true)).toBe(1500);
    const none = createBackoff({ baseMs: 1000, maxMs: 60_000, random: () => 0.5 });
    expect(none.next(true)).toBe(750);
    expect(minimumDelayMs({ baseMs: 1000, maxMs: 60_000 }, 1, true)).toBe(500);
  });

  it('spreads a fleet over the window', () => {
    const delays = Array.from({ length: 1000 }, () => createBackoff(options).next(true));
    const perTenSeconds = [0, 1, 2, 3, 4, 5].map(
      (slot) => delays.filter((d) => d >= slot * 10_000 && d < (slot + 1) * 10_000).length,
    );
    // Uniform: about 167 in each 10 s slot; none of them near the 1,000 of a herd.
    for (const n of perTenSeconds) expect(n).toBeGreaterThan(100);
    for (const n of perTenSeconds) expect(n).toBeLessThan(250);
  });
});
