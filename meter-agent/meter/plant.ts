// Draws the fixed character of one simulated customer from the seed: how big its demand is,
// how unevenly its phases are loaded, how much PV is on the roof, where its registers start.

import type { PlantParameters } from './electrical.js';
import type { ResolvedOptions } from './options.js';
import type { Prng } from './prng.js';

export interface PlantDraw {
  plant: PlantParameters;
  initialImportKwh: number;
  initialExportKwh: number;
}

// A household peaks at roughly an eighth of what its connection could carry.
const PEAK_DEMAND_OF_RATED = 0.12;

export function drawPlant(options: ResolvedOptions, rng: Prng): PlantDraw {
  const ratedKw = (options.phases * options.nominalVoltageV * options.ratedCurrentA) / 1000;
  const peakLoadKw = ratedKw * PEAK_DEMAND_OF_RATED * rng.uniform(0.7, 1.3);
  // Drawn even when the option overrides it, so the draws after it stay aligned with the seed.
  const drawnPv = rng.uniform(1, 3.5);
  const pvPeakKw = options.pvPeakKw ?? drawnPv;

  // Imbalance: each phase carries 1/n of the load give or take about a tenth.
  const weights = Array.from({ length: options.phases }, () =>
    Math.max(0.3, 1 + rng.normal(0, 0.1)),
  );
  const total = weights.reduce((sum, w) => sum + w, 0);

  const initialImportKwh = Math.round(rng.uniform(500, 25_000) * 1000) / 1000;
  const initialExportKwh =
    pvPeakKw > 0 ? Math.round(initialImportKwh * rng.uniform(0.02, 0.15) * 1000) / 1000 : 0;

  return {
    plant: {
      phaseCount: options.phases,
      nominalVoltageV: options.nominalVoltageV,
      // A 50 Hz grid; the simulator does not model 60 Hz networks.
      nominalFrequencyHz: 50,
      peakLoadKw,
      pvPeakKw,
      phaseShares: weights.map((w) => w / total),
      profile: options.loadProfile,
      utcOffsetMinutes: options.utcOffsetMinutes,
    },
    initialImportKwh,
    initialExportKwh,
  };
}
