// Plausible electrical quantities for one meter: a load following the day's profile with
// mean-reverting noise, rooftop PV at midday, phase voltages near nominal, frequency near 50 Hz,
// power factor and voltage THD in their usual ranges. All randomness comes from the seeded Prng.

import { hourOfDay, type LoadProfileName, loadFactor, pvFactor } from './load-profile.js';
import type { Prng } from './prng.js';

/** Fixed per meter (drawn once from the seed): what kind of customer sits behind it. */
export interface PlantParameters {
  phaseCount: 1 | 3;
  nominalVoltageV: number;
  nominalFrequencyHz: number;
  peakLoadKw: number;
  pvPeakKw: number;
  /** Share of the load on each phase, summing to 1 (the customer's wiring imbalance). */
  phaseShares: readonly number[];
  profile: LoadProfileName;
  utcOffsetMinutes: number;
}

/** What the metrology would measure with the supply present and the relay closed. */
export interface ElectricalSample {
  loadKw: number;
  pvKw: number;
  voltagesV: readonly number[];
  phaseShares: readonly number[];
  powerFactor: number;
  frequencyHz: number;
  thdPercent: number;
}

export interface SupplyState {
  /** False during an interruption: no voltage at the meter. */
  energised: boolean;
  /** False when the service relay is open or locked out: no current to the premises. */
  connected: boolean;
  /**
   * A load limit in force (PROTOCOL §4 load-limit), kW, or null. The premises' controllable
   * load is curtailed so the import stays at or under it, as a load-limiting meter enforces.
   */
  loadLimitKw?: number | null;
}

/** What the registers show: the sample after the supply and the relay have had their say. */
export interface Measurements {
  importKw: number;
  exportKw: number;
  /** Always three entries (L1, L2, L3); a single-phase meter reports 0 on L2 and L3. */
  voltagesV: readonly [number, number, number];
  currentsA: readonly [number, number, number];
  frequencyHz: number;
  powerFactor: number;
  thdPercent: number;
}

// PROTOCOL §6 ranges the simulation keeps to (and the tests check).
export const LIMITS = {
  voltagePu: [0.98, 1.02],
  frequencyDeviationHz: 0.05,
  powerFactor: [0.85, 0.99],
  thdPercent: [1, 4],
} as const;

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * One step of an Ornstein–Uhlenbeck process: noise that wanders and returns to zero with time
 * constant `tauMs`, with spread `sigma` whatever the step length, so changing the register tick
 * does not change how noisy the readings look.
 */
function ouStep(value: number, dtMs: number, tauMs: number, sigma: number, rng: Prng): number {
  const phi = Math.exp(-dtMs / tauMs);
  return phi * value + sigma * Math.sqrt(1 - phi * phi) * rng.normal();
}

const MINUTE_MS = 60_000;

export interface ElectricalSampler {
  sample(at: Date): ElectricalSample;
}

export function createElectricalSampler(plant: PlantParameters, rng: Prng): ElectricalSampler {
  const noise = {
    load: 0,
    cloud: 0,
    frequency: 0,
    thd: 0,
    powerFactor: 0,
    voltage: plant.phaseShares.map(() => 0),
    share: plant.phaseShares.map(() => 0),
  };
  let lastAtMs: number | null = null;

  return {
    sample(at) {
      // The first sample starts from the stationary spread (an infinite step).
      const dt =
        lastAtMs === null ? Number.POSITIVE_INFINITY : Math.max(0, at.getTime() - lastAtMs);
      lastAtMs = at.getTime();

      noise.load = ouStep(noise.load, dt, 5 * MINUTE_MS, 0.15, rng);
      noise.cloud = ouStep(noise.cloud, dt, 15 * MINUTE_MS, 0.25, rng);
      noise.frequency = ouStep(noise.frequency, dt, 0.5 * MINUTE_MS, 0.02, rng);
      noise.thd = ouStep(noise.thd, dt, 10 * MINUTE_MS, 0.4, rng);
      noise.powerFactor = ouStep(noise.powerFactor, dt, 2 * MINUTE_MS, 0.015, rng);
      noise.voltage = noise.voltage.map((v) => ouStep(v, dt, MINUTE_MS, 0.006, rng));
      noise.share = noise.share.map((s) => ouStep(s, dt, 2 * MINUTE_MS, 0.05, rng));
      // Appliances switching on and off between samples.
      const jitter = 1 + rng.normal(0, 0.03);

      const hour = hourOfDay(at, plant.utcOffsetMinutes);
      const loadKw = Math.max(
        0,
        plant.peakLoadKw * loadFactor(plant.profile, hour) * Math.max(0.2, 1 + noise.load) * jitter,
      );
      const pvKw = plant.pvPeakKw * pvFactor(hour) * clamp(1 - Math.abs(noise.cloud), 0.15, 1);

      const loadFraction = plant.peakLoadKw > 0 ? Math.min(1.5, loadKw / plant.peakLoadKw) : 0;
      const pvFraction = plant.pvPeakKw > 0 ? pvKw / plant.pvPeakKw : 0;
      // Voltage sags a little under load and rises a little with export, as on a real feeder.
      const [vMin, vMax] = LIMITS.voltagePu;
      const voltagesV = noise.voltage.map(
        (n) =>
          plant.nominalVoltageV *
          clamp(1 + n - 0.01 * (loadFraction - 0.5) + 0.005 * pvFraction, vMin, vMax),
      );
      const rawShares = plant.phaseShares.map((share, i) =>
        Math.max(0.05, share * (1 + (noise.share[i] ?? 0))),
      );
      const shareTotal = rawShares.reduce((sum, s) => sum + s, 0);

      const [pfMin, pfMax] = LIMITS.powerFactor;
      const [thdMin, thdMax] = LIMITS.thdPercent;
      const maxDeviation = LIMITS.frequencyDeviationHz;
      return {
        loadKw,
        pvKw,
        voltagesV,
        phaseShares: rawShares.map((s) => s / shareTotal),
        // Light loads are dominated by electronics and motors at standby: a poorer power factor.
        powerFactor: clamp(
          0.87 + 0.09 * Math.min(1, loadFraction) + noise.powerFactor,
          pfMin,
          pfMax,
        ),
        frequencyHz: plant.nominalFrequencyHz + clamp(noise.frequency, -maxDeviation, maxDeviation),
        // Evening electronics raise the harmonic content.
        thdPercent: clamp(1.8 + Math.min(1, loadFraction) + noise.thd, thdMin, thdMax),
      };
    },
  };
}

/** Applies the supply and the relay to a sample: what the meter actually measures now. */
export function measure(sample: ElectricalSample, supply: SupplyState): Measurements {
  const zeros = [0, 0, 0] as const;
  if (!supply.energised) {
    // No voltage, so nothing to measure; power factor is undefined without current and we
    // report unity rather than an artefact of dividing by zero.
    return {
      importKw: 0,
      exportKw: 0,
      voltagesV: zeros,
      currentsA: zeros,
      frequencyHz: 0,
      powerFactor: 1,
      thdPercent: 0,
    };
  }
  const voltagesV = [sample.voltagesV[0] ?? 0, sample.voltagesV[1] ?? 0, sample.voltagesV[2] ?? 0];
  const common = {
    voltagesV: voltagesV as [number, number, number],
    frequencyHz: sample.frequencyHz,
    thdPercent: sample.thdPercent,
  };
  if (!supply.connected) {
    return { ...common, importKw: 0, exportKw: 0, currentsA: zeros, powerFactor: 1 };
  }
  const phaseCount = sample.phaseShares.length;
  const limit = supply.loadLimitKw ?? null;
  const loadKw = limit === null ? sample.loadKw : Math.min(sample.loadKw, limit + sample.pvKw);
  // The PV inverter feeds every phase evenly; the load sits on the phases unevenly.
  const currentsA = [0, 1, 2].map((i) => {
    const share = sample.phaseShares[i];
    const volts = voltagesV[i] ?? 0;
    if (share === undefined || volts <= 0) return 0;
    const netKw = loadKw * share - sample.pvKw / phaseCount;
    return (Math.abs(netKw) * 1000) / (volts * sample.powerFactor);
  }) as [number, number, number];
  const netKw = loadKw - sample.pvKw;
  return {
    ...common,
    importKw: Math.max(0, netKw),
    exportKw: Math.max(0, -netKw),
    currentsA,
    powerFactor: sample.powerFactor,
  };
}
