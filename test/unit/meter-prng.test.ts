import { describe, expect, it } from 'vitest';
import { createPrng, deriveSeed } from '../../meter-agent/meter/prng.js';

const draw = (seed: number, stream = '', n = 100) => {
  const rng = createPrng(seed, stream);
  return Array.from({ length: n }, () => rng.next());
};

describe('seeded PRNG', () => {
  it('replays the same sequence for the same seed and stream', () => {
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42, 'events')).toEqual(draw(42, 'events'));
  });

  it('differs between seeds, between streams, and for seeds differing above bit 31', () => {
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(42, 'physics')).not.toEqual(draw(42, 'events'));
    expect(deriveSeed(1, '')).not.toBe(deriveSeed(1 + 2 ** 32, ''));
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => createPrng(1.5)).toThrow(RangeError);
    expect(() => createPrng(Number.NaN)).toThrow(RangeError);
  });

  it('keeps next() and uniform() in range', () => {
    const rng = createPrng(7);
    for (let i = 0; i < 10_000; i++) {
      const u = rng.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      const v = rng.uniform(-3, 5);
      expect(v).toBeGreaterThanOrEqual(-3);
      expect(v).toBeLessThan(5);
    }
  });

  it('gives integers covering the whole closed range', () => {
    const rng = createPrng(8);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.int(1, 6));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('has roughly the right mean and spread for normal and exponential draws', () => {
    const rng = createPrng(9);
    const n = 50_000;
    const normals = Array.from({ length: n }, () => rng.normal(10, 2));
    const mean = normals.reduce((a, b) => a + b, 0) / n;
    const variance = normals.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(mean).toBeCloseTo(10, 1);
    expect(Math.sqrt(variance)).toBeCloseTo(2, 1);

    const exps = Array.from({ length: n }, () => rng.exponential(30));
    expect(Math.min(...exps)).toBeGreaterThanOrEqual(0);
    expect(exps.reduce((a, b) => a + b, 0) / n).toBeGreaterThan(29);
    expect(exps.reduce((a, b) => a + b, 0) / n).toBeLessThan(31);
  });

  it('picks weighted choices in proportion', () => {
    const rng = createPrng(10);
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 20_000; i++) {
      counts[
        rng.weighted([
          ['a', 3],
          ['b', 1],
        ] as const)
      ] += 1;
    }
    expect(counts.a / 20_000).toBeGreaterThan(0.72);
    expect(counts.a / 20_000).toBeLessThan(0.78);
  });

  it('does not lose precision after millions of draws', () => {
    const rng = createPrng(11);
    for (let i = 0; i < 5_000_000; i++) rng.next();
    const tail = Array.from({ length: 1000 }, () => rng.next());
    expect(new Set(tail).size).toBeGreaterThan(990);
  });
});
