// Random power-quality happenings for the simulated meter: Poisson arrivals (exponential gaps)
// at an average rate per hour, each one a sag (most common), swell, high THD, short
// interruption or, rarely, a tamper. The relay never operates by chance.

import type { Clock } from './clock.js';
import type { Phase } from './model.js';
import type { Prng } from './prng.js';

export type RandomOccurrence =
  | { kind: 'sag' | 'swell'; phase: Phase; magnitude: number; durationMs: number }
  | { kind: 'thd-high'; phase: Phase; magnitude: number; durationMs: number }
  | { kind: 'interruption'; durationMs: number }
  | { kind: 'tamper' };

type OccurrenceKind = RandomOccurrence['kind'];

// Relative frequencies; sags dominate on real distribution networks.
// At the default 2 per hour: about two short interruptions a day, a tamper every few days.
const WEIGHTS: readonly (readonly [OccurrenceKind, number])[] = [
  ['sag', 0.6],
  ['swell', 0.17],
  ['thd-high', 0.185],
  ['interruption', 0.04],
  ['tamper', 0.005],
];

const MS_PER_HOUR = 3_600_000;

/** Draws what happens; always the same number of draws per kind, so replays stay aligned. */
export function drawOccurrence(rng: Prng, phases: readonly Phase[]): RandomOccurrence {
  const kind = rng.weighted(WEIGHTS);
  const phase = phases[rng.int(0, phases.length - 1)] ?? 'L1';
  switch (kind) {
    case 'sag':
      // IEC 61000-4-30: a sag is a dip below 90 % of nominal, from half a cycle upward.
      return { kind, phase, magnitude: round(rng.uniform(0.5, 0.9), 2), durationMs: duration(rng) };
    case 'swell':
      // IEC 61000-4-30: a swell rises above 110 % of nominal.
      return { kind, phase, magnitude: round(rng.uniform(1.1, 1.2), 2), durationMs: duration(rng) };
    case 'thd-high':
      return {
        kind,
        phase,
        magnitude: round(rng.uniform(5, 12), 1),
        durationMs: rng.int(10, 600) * 1000,
      };
    case 'interruption':
      // Short interruptions: 1–30 s, then the supply comes back.
      return { kind, durationMs: rng.int(1000, 30_000) };
    case 'tamper':
      return { kind };
  }
}

function duration(rng: Prng): number {
  return rng.int(10, 500);
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export interface RandomEventSource {
  start(): void;
  stop(): void;
}

export function createRandomEventSource(options: {
  rng: Prng;
  clock: Clock;
  ratePerHour: number;
  phases: readonly Phase[];
  onOccurrence: (occurrence: RandomOccurrence) => void;
}): RandomEventSource {
  const { rng, clock, ratePerHour } = options;
  let timer: unknown = null;

  const arm = (): void => {
    const gapMs = rng.exponential(MS_PER_HOUR / ratePerHour);
    timer = clock.setTimeout(fire, Math.max(1, Math.round(gapMs)));
  };
  const fire = (): void => {
    timer = null;
    // Re-arm first, so a listener that stops the meter also stops this source for good.
    arm();
    options.onOccurrence(drawOccurrence(rng, options.phases));
  };

  return {
    start() {
      if (timer !== null || ratePerHour <= 0) return;
      arm();
    },
    stop() {
      if (timer === null) return;
      clock.clearTimeout(timer);
      timer = null;
    },
  };
}
