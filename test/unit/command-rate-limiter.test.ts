import { describe, expect, it } from 'vitest';
import { createAdhocSessions } from '../../meter-agent/commands/adhoc-sessions.js';
import { trackRecentEvents } from '../../meter-agent/commands/recent-events.js';
import type { MeterEvent } from '../../meter-agent/meter/model.js';
import { createRateLimiter } from '../../meter-agent/security/rate-limiter.js';

// The bounded helpers of the command layer (STYLE §9): the per-sender token bucket, the ad-hoc
// session map and the ring of recent meter events.

describe('rate limiter (token bucket per sender)', () => {
  it('allows a burst, then one per refill interval, and reports the run of refusals', () => {
    let ms = 0;
    const limiter = createRateLimiter({ burst: 2, refillPerS: 0.5, maxSenders: 8 }, () => ms);
    expect(limiter.take('a')).toEqual({ allowed: true, refusedBefore: 0 });
    expect(limiter.take('a')).toEqual({ allowed: true, refusedBefore: 0 });
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 2000, refusedInRow: 1 });
    ms = 1000;
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 1000, refusedInRow: 2 });
    ms = 2000;
    expect(limiter.take('a')).toEqual({ allowed: true, refusedBefore: 2 });
    expect(limiter.take('b')).toMatchObject({ allowed: true });
    ms = 100_000;
    limiter.take('a');
    limiter.take('a');
    expect(limiter.take('a').allowed).toBe(false); // never more than the burst
  });

  it('forgets the least recently seen sender past maxSenders', () => {
    const limiter = createRateLimiter({ burst: 1, refillPerS: 0.001, maxSenders: 2 }, () => 0);
    limiter.take('a');
    limiter.take('b');
    expect(limiter.take('a').allowed).toBe(false); // 'a' is now the most recent
    limiter.take('c'); // evicts 'b'
    expect(limiter.take('b').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(true); // evicted by 'b' in turn: a fresh bucket
  });

  it('peeks without taking', () => {
    const limiter = createRateLimiter({ burst: 1, refillPerS: 1, maxSenders: 8 }, () => 0);
    expect(limiter.peek('a')).toBe(true);
    expect(limiter.peek('a')).toBe(true);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.peek('a')).toBe(false);
  });

  it('refuses nonsense settings', () => {
    expect(() => createRateLimiter({ burst: 0, refillPerS: 1, maxSenders: 1 })).toThrow(RangeError);
  });
});

describe('ad-hoc sessions', () => {
  it('belong to one requester and node, expire, and are bounded', () => {
    let ms = 0;
    let n = 0;
    const sessions = createAdhocSessions(
      { maxSessions: 2, maxPerRequester: 2, ttlMs: 1000 },
      () => ms,
      () => `s${++n}`,
    );
    const a = sessions.open('node-a', 'op@x/1');
    expect(sessions.check(a, 'node-a', 'op@x/1')).toBe('open');
    expect(sessions.check(a, 'node-a', 'op@x/2')).toBe('unknown');
    expect(sessions.check(a, 'node-b', 'op@x/1')).toBe('unknown');
    sessions.close(a, 'op@x/2'); // not the owner: nothing happens
    expect(sessions.check(a, 'node-a', 'op@x/1')).toBe('open');
    sessions.open('node-a', 'op@x/1');
    sessions.open('node-a', 'op@x/1');
    expect(sessions.size).toBe(2);
    expect(sessions.check(a, 'node-a', 'op@x/1')).toBe('unknown'); // the oldest fell out
    const b = sessions.open('node-a', 'op@x/1');
    ms = 1000;
    expect(sessions.check(b, 'node-a', 'op@x/1')).toBe('expired');
    expect(sessions.check(b, 'node-a', 'op@x/1')).toBe('unknown');
    sessions.open('node-a', 'op@x/1'); // purges the expired ones
    expect(sessions.size).toBe(1);
  });
});

describe('ad-hoc sessions per requester', () => {
  it('drops the requester’s own oldest session past its share', () => {
    let n = 0;
    const sessions = createAdhocSessions(
      { maxSessions: 10, maxPerRequester: 2, ttlMs: 1000 },
      () => 0,
      () => `s${++n}`,
    );
    const other = sessions.open('n', 'viewer@x/1');
    const a1 = sessions.open('n', 'op@x/1');
    sessions.open('n', 'op@x/2');
    sessions.open('n', 'op@x/1');
    expect(sessions.check(a1, 'n', 'op@x/1')).toBe('unknown');
    expect(sessions.check(other, 'n', 'viewer@x/1')).toBe('open');
    expect(sessions.size).toBe(3);
  });
});

describe('recent events ring', () => {
  it('keeps the newest events in order and filters by time', () => {
    const listeners: Array<(e: MeterEvent) => void> = [];
    const recent = trackRecentEvents(
      {
        onEvent: (l) => {
          listeners.push(l);
          return () => listeners.splice(0);
        },
      },
      3,
    );
    const at = (s: number): MeterEvent => ({ type: 'sag', ts: new Date(s * 1000) });
    for (const s of [1, 2, 3, 4, 5]) for (const l of listeners) l(at(s));
    expect(recent.since(new Date(0)).map((e) => e.ts.getTime() / 1000)).toEqual([3, 4, 5]);
    expect(recent.since(new Date(4000)).map((e) => e.ts.getTime() / 1000)).toEqual([4, 5]);
    recent.stop();
    expect(listeners).toEqual([]);
  });
});
