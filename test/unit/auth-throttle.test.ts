import { describe, expect, it } from 'vitest';
import {
  createLoginThrottle,
  type LoginAttempt,
  THROTTLE_DEFAULTS,
} from '../../presence-service/auth/login-throttle.js';

// Brute-force protection (docs/http-auth.md "Brute force"): sliding windows per username and per
// address, refusals with how long to wait, growing delays, in-flight attempts counted.

const MIN = 60_000;

function throttleAt(options: Parameters<typeof createLoginThrottle>[0] = {}) {
  let now = 1_000_000;
  const throttle = createLoginThrottle(options, () => now);
  return {
    throttle,
    advance: (ms: number) => {
      now += ms;
    },
    /** One attempt that fails; the delay it asks for. */
    fail: (username: string, address = '192.0.2.1') => {
      const decision = throttle.begin(username, address);
      if (!decision.allowed) throw new Error(`refused: retry after ${decision.retryAfterS} s`);
      return decision.attempt.failed();
    },
  };
}

describe('login throttle', () => {
  it('refuses a username after its limit of failures, until the oldest leaves the window', () => {
    const { throttle, advance, fail } = throttleAt();
    for (let i = 0; i < THROTTLE_DEFAULTS.maxPerUsername; i++) {
      fail('alice');
      advance(MIN);
    }
    // 5 failures at 0, 1, 2, 3, 4 min; now is 5 min: the first leaves the window at 15 min.
    const refused = throttle.begin('ALICE', '198.51.100.7');
    expect(refused).toEqual({ allowed: false, retryAfterS: 10 * 60 });
    advance(10 * MIN - 1000);
    expect(throttle.begin('alice', '198.51.100.7').allowed).toBe(false);
    advance(1000);
    expect(throttle.begin('alice', '198.51.100.7').allowed).toBe(true);
    // Another username is not affected.
    expect(throttle.begin('bob', '192.0.2.1').allowed).toBe(true);
  });

  it('refuses an address that tries many usernames', () => {
    const { throttle, fail } = throttleAt();
    for (let i = 0; i < THROTTLE_DEFAULTS.maxPerAddress; i++) fail(`user-${i}`, '203.0.113.9');
    const refused = throttle.begin('someone-new', '203.0.113.9');
    expect(refused.allowed).toBe(false);
    expect(throttle.begin('someone-new', '203.0.113.10').allowed).toBe(true);
  });

  it('answers each failure more slowly than the last, up to a bound', () => {
    const { fail } = throttleAt({ maxPerUsername: 20 });
    const delays = Array.from({ length: 10 }, () => fail('carol'));
    expect(delays.slice(0, 4)).toEqual([250, 500, 750, 1000]);
    expect(Math.max(...delays)).toBe(THROTTLE_DEFAULTS.maxDelayMs);
  });

  it("clears the username's count on success, and takes back the success's own attempt", () => {
    const { throttle, fail } = throttleAt({ maxPerUsername: 3, maxPerAddress: 3 });
    fail('dave');
    fail('dave');
    const decision = throttle.begin('dave', '192.0.2.1');
    if (!decision.allowed) throw new Error('refused');
    decision.attempt.succeeded();
    // The username starts afresh; the address keeps its two failures (one more is allowed).
    expect(fail('dave')).toBe(250);
    expect(throttle.begin('erin', '192.0.2.1').allowed).toBe(false);
  });

  it('counts attempts still in flight, so a parallel burst cannot pass the limit', () => {
    const { throttle } = throttleAt({ maxPerUsername: 5 });
    const started: LoginAttempt[] = [];
    let refused = 0;
    for (let i = 0; i < 50; i++) {
      const decision = throttle.begin('frank', `198.51.100.${i}`);
      if (decision.allowed) started.push(decision.attempt);
      else refused += 1;
    }
    expect(started).toHaveLength(5);
    expect(refused).toBe(45);
  });

  it('remembers a bounded number of usernames and addresses', () => {
    const { throttle, fail } = throttleAt({ maxKeys: 100, maxPerAddress: 1_000_000 });
    for (let i = 0; i < 1000; i++) fail(`spray-${i}`, '192.0.2.50');
    // The oldest usernames were forgotten; the newest are still counted.
    expect(throttle.begin('spray-0', '192.0.2.51').allowed).toBe(true);
    for (let i = 0; i < 4; i++) fail('spray-999', '192.0.2.52');
    expect(throttle.begin('spray-999', '192.0.2.53').allowed).toBe(false);
  });
});
