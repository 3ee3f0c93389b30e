// Seeded randomness for the simulated meter: the same seed gives the same numbers on every
// platform (integer arithmetic only in the generator), so a simulated day replays exactly in
// tests and bug reports. Not for anything security-related.

export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** Normal (Gaussian) by Box–Muller. */
  normal(mean?: number, sd?: number): number;
  /** Exponential with the given mean: inter-arrival times of a Poisson process. */
  exponential(mean: number): number;
  /** One of the items, chosen in proportion to its weight. */
  weighted<T>(choices: readonly (readonly [item: T, weight: number])[]): T;
}

/**
 * mulberry32 (Tommy Ettinger, public domain): 32-bit state, period 2^32, passes the usual
 * statistical batteries well enough for plausible noise. The state is kept in int32 range so
 * it never loses precision however long the simulation runs.
 */
function mulberry32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit avalanche mix (the murmur3 finaliser), so nearby seeds give unrelated streams. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A seed for an independent stream named `salt`, so each concern (physics noise, random events)
 * draws from its own sequence and changing one never shifts the other.
 */
export function deriveSeed(seed: number, salt: string): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  // Fold in the high bits too, so seeds that differ only above bit 31 still differ.
  let h = fmix32((seed >>> 0) ^ fmix32(Math.floor(seed / 4294967296) ^ 0x9e3779b9));
  for (let i = 0; i < salt.length; i++) h = fmix32(h ^ Math.imul(salt.charCodeAt(i), 0x01000193));
  return h;
}

/** A generator for `seed`; give each concern its own `stream` name (see deriveSeed). */
export function createPrng(seed: number, stream = ''): Prng {
  const next = mulberry32(deriveSeed(seed, stream));
  // Box–Muller yields two independent normals; keep the second for the next call.
  let spareNormal: number | null = null;

  const standardNormal = (): number => {
    if (spareNormal !== null) {
      const value = spareNormal;
      spareNormal = null;
      return value;
    }
    const u1 = 1 - next(); // (0, 1]: log(0) is never taken
    const u2 = next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    spareNormal = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };

  return {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    normal: (mean = 0, sd = 1) => mean + sd * standardNormal(),
    exponential: (mean) => -mean * Math.log(1 - next()),
    weighted: (choices) => {
      const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
      let target = next() * total;
      for (const [item, weight] of choices) {
        target -= weight;
        if (target < 0) return item;
      }
      const last = choices[choices.length - 1];
      if (last === undefined) throw new RangeError('weighted() needs at least one choice');
      return last[0];
    },
  };
}
