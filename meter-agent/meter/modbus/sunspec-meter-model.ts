// SunSpec meter models 201 (single phase), 202 (split phase), 203 (three-phase wye) and 204
// (three-phase delta): one layout of 105 registers, integers with scale factors. A phase the
// model does not have reads "not implemented" and decodes to null. Offsets are from the first
// data register (after ID and L), as in the SunSpec model definitions (models/json/model_20x).

import { acc32, bitfield32, int16, type ModelBlock, scaled, sunssf } from './sunspec-values.js';

export const METER_MODEL_LENGTH = 105;

/** Point offsets in models 201-204. */
export const METER_POINTS = {
  A: 0,
  AphA: 1,
  AphB: 2,
  AphC: 3,
  A_SF: 4,
  PhV: 5,
  PhVphA: 6,
  PhVphB: 7,
  PhVphC: 8,
  PPV: 9,
  PhVphAB: 10,
  PhVphBC: 11,
  PhVphCA: 12,
  V_SF: 13,
  Hz: 14,
  Hz_SF: 15,
  W: 16,
  WphA: 17,
  WphB: 18,
  WphC: 19,
  W_SF: 20,
  VA: 21,
  VA_SF: 25,
  VAR: 26,
  VAR_SF: 30,
  PF: 31,
  PF_SF: 35,
  TotWhExp: 36,
  TotWhImp: 44,
  TotWh_SF: 52,
  Evt: 103,
} as const;

type Triple = readonly [number | null, number | null, number | null];

/** One poll of the meter model, in SI units; null where the meter does not implement it. */
export interface SunSpecMeterSample {
  modelId: number;
  currentA: number | null;
  phaseCurrentsA: Triple;
  /** Line to neutral (A-N, B-N, C-N). */
  phaseVoltagesV: Triple;
  /** Line to line (A-B, B-C, C-A). */
  lineVoltagesV: Triple;
  frequencyHz: number | null;
  /** Total real power; positive is import (delivered to the premises). */
  powerW: number | null;
  apparentPowerVa: number | null;
  reactivePowerVar: number | null;
  /** As a ratio (-1..1): SunSpec gives percent. */
  powerFactor: number | null;
  energyImportWh: number | null;
  energyExportWh: number | null;
  /** The Evt bitfield (M_EVENT_*), null when not implemented. */
  eventBits: number | null;
}

export function decodeMeterModel(modelId: number, block: ModelBlock): SunSpecMeterSample {
  if (block.length < METER_MODEL_LENGTH) {
    throw new RangeError(
      `meter model ${modelId} is ${block.length} registers long, ${METER_MODEL_LENGTH} expected`,
    );
  }
  const p = METER_POINTS;
  const point = (offset: number, sfOffset: number) =>
    scaled(int16(block, offset), sunssf(block, sfOffset));
  const triple = (a: number, b: number, c: number, sfOffset: number): Triple => [
    point(a, sfOffset),
    point(b, sfOffset),
    point(c, sfOffset),
  ];
  const energySf = sunssf(block, p.TotWh_SF);
  const pfPercent = point(p.PF, p.PF_SF);
  return {
    modelId,
    currentA: point(p.A, p.A_SF),
    phaseCurrentsA: triple(p.AphA, p.AphB, p.AphC, p.A_SF),
    phaseVoltagesV: triple(p.PhVphA, p.PhVphB, p.PhVphC, p.V_SF),
    lineVoltagesV: triple(p.PhVphAB, p.PhVphBC, p.PhVphCA, p.V_SF),
    frequencyHz: point(p.Hz, p.Hz_SF),
    powerW: point(p.W, p.W_SF),
    apparentPowerVa: point(p.VA, p.VA_SF),
    reactivePowerVar: point(p.VAR, p.VAR_SF),
    powerFactor: pfPercent === null ? null : pfPercent / 100,
    energyImportWh: scaled(acc32(block, p.TotWhImp), energySf),
    energyExportWh: scaled(acc32(block, p.TotWhExp), energySf),
    eventBits: bitfield32(block, p.Evt),
  };
}
