// The meter's measuring core: keeps the latest electrical sample and integrates active power
// into the energy registers (1-0:1.8.0 import, 1-0:2.8.0 export, PROTOCOL §6). Energy only ever
// grows: power is never negative and time is only ever counted forwards.

import {
  type ElectricalSample,
  type ElectricalSampler,
  type Measurements,
  measure,
  type SupplyState,
} from './electrical.js';

export interface MetrologyState extends SupplyState {
  /** False when the metrology board is unreachable: readings freeze and nothing is counted. */
  sensing: boolean;
}

export interface MetrologyReading {
  measurements: Measurements;
  energyImportKwh: number;
  energyExportKwh: number;
}

export interface Metrology {
  /** Counts energy up to `at`, then takes a fresh sample (unless sensing is lost). */
  tick(at: Date): void;
  /** Counts energy up to `at` under the old state, then switches to the new one. */
  setState(at: Date, patch: Partial<MetrologyState>): void;
  /** Starts counting time from `at` (the meter was started). */
  resume(at: Date): void;
  /** Counts up to `at` and stops counting time (the meter was stopped). */
  pause(at: Date): void;
  /** The registers as of `at`, including energy of the part-interval since the last tick. */
  read(at: Date): MetrologyReading;
}

const MS_PER_HOUR = 3_600_000;

export function createMetrology(options: {
  sampler: ElectricalSampler;
  initialAt: Date;
  initialImportKwh: number;
  initialExportKwh: number;
}): Metrology {
  const { sampler } = options;
  let sample: ElectricalSample = sampler.sample(options.initialAt);
  let state: MetrologyState = { energised: true, connected: true, sensing: true };
  let importKwh = options.initialImportKwh;
  let exportKwh = options.initialExportKwh;
  // Null while stopped: a stopped simulation counts no energy.
  let countedUntilMs: number | null = null;

  const energySince = (atMs: number): { importKwh: number; exportKwh: number } => {
    if (countedUntilMs === null || atMs <= countedUntilMs || !state.sensing) {
      return { importKwh: 0, exportKwh: 0 };
    }
    const hours = (atMs - countedUntilMs) / MS_PER_HOUR;
    const now = measure(sample, state);
    return { importKwh: now.importKw * hours, exportKwh: now.exportKw * hours };
  };

  const settle = (at: Date): void => {
    const atMs = at.getTime();
    const delta = energySince(atMs);
    importKwh += delta.importKwh;
    exportKwh += delta.exportKwh;
    // Never move backwards if the wall clock is stepped back.
    if (countedUntilMs !== null && atMs > countedUntilMs) countedUntilMs = atMs;
  };

  return {
    tick(at) {
      settle(at);
      if (state.sensing) sample = sampler.sample(at);
    },
    setState(at, patch) {
      settle(at);
      state = { ...state, ...patch };
    },
    resume(at) {
      if (countedUntilMs === null) countedUntilMs = at.getTime();
    },
    pause(at) {
      settle(at);
      countedUntilMs = null;
    },
    read(at) {
      const delta = energySince(at.getTime());
      return {
        measurements: measure(sample, state),
        energyImportKwh: importKwh + delta.importKwh,
        energyExportKwh: exportKwh + delta.exportKwh,
      };
    },
  };
}
