// What a test or a technician can make the simulated meter do, one synchronous change each,
// so every presence state and reason of PROTOCOL §1 can be driven on purpose.

import type { Phase } from './model.js';

export const SIMULATION_INJECTIONS = [
  'sag',
  'swell',
  'thd-high',
  'interruption-start',
  'interruption-end',
  'tamper',
  'tamper-clear',
  'relay-open',
  'relay-close',
  'relay-lockout',
  'fault',
  'fault-clear',
  'sensor-failure',
  'sensor-restore',
  'clock-lost',
  'clock-synced',
] as const;

export type SimulationInjection = (typeof SIMULATION_INJECTIONS)[number];

export function isSimulationInjection(value: unknown): value is SimulationInjection {
  return typeof value === 'string' && (SIMULATION_INJECTIONS as readonly string[]).includes(value);
}

/** Optional details; defaults are fixed (not random) so an injection never shifts the seed. */
export interface InjectionArgs {
  /** sag / swell / thd-high; default 'L1'. */
  phase?: Phase;
  /** Per-unit for sag (default 0.8) and swell (default 1.15); percent for thd-high (default 8). */
  magnitude?: number;
  /** sag / swell / thd-high; default 100 ms (thd-high 60 000 ms). */
  durationMs?: number;
  /** 'fault' only; default 'metrology-fault'. */
  fault?: string;
}

export const INJECTION_DEFAULTS = {
  phase: 'L1',
  sagMagnitude: 0.8,
  swellMagnitude: 1.15,
  thdHighPercent: 8,
  voltageEventMs: 100,
  thdHighMs: 60_000,
  fault: 'metrology-fault',
} as const;

export type VoltageEventType = 'sag' | 'swell' | 'thd-high';

/** An injected sag, swell or THD event with its defaults filled in and its values checked. */
export function resolveVoltageEventArgs(
  type: VoltageEventType,
  args: InjectionArgs,
  phases: readonly Phase[],
): { phase: Phase; magnitude: number; durationMs: number } {
  const phase = args.phase ?? INJECTION_DEFAULTS.phase;
  if (!phases.includes(phase)) {
    throw new RangeError(`phase ${phase} does not exist on a ${phases.length}-phase meter`);
  }
  const defaultMagnitude = {
    sag: INJECTION_DEFAULTS.sagMagnitude,
    swell: INJECTION_DEFAULTS.swellMagnitude,
    'thd-high': INJECTION_DEFAULTS.thdHighPercent,
  }[type];
  const magnitude = args.magnitude ?? defaultMagnitude;
  const durationMs =
    args.durationMs ??
    (type === 'thd-high' ? INJECTION_DEFAULTS.thdHighMs : INJECTION_DEFAULTS.voltageEventMs);
  if (!Number.isFinite(magnitude) || magnitude <= 0) {
    throw new RangeError(`magnitude must be a positive number, got ${magnitude}`);
  }
  if (!Number.isFinite(durationMs) || durationMs < 0) {
    throw new RangeError(`durationMs must be zero or more, got ${durationMs}`);
  }
  return { phase, magnitude, durationMs };
}
