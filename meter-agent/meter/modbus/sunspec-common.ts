// SunSpec common model 1: who made the device and which one it is. Offsets are from the first
// data register (after ID and L): Mn 0-15, Md 16-31, Opt 32-39, Vr 40-47, SN 48-63, DA 64,
// Pad 65 (absent when L is 65).

import { type ModelBlock, sunspecString } from './sunspec-values.js';

export const COMMON_MODEL_MIN_LENGTH = 65;

export interface SunSpecIdentity {
  manufacturer: string;
  model: string;
  version: string;
  serial: string;
}

export function decodeCommonModel(block: ModelBlock): SunSpecIdentity {
  if (block.length < COMMON_MODEL_MIN_LENGTH) {
    throw new RangeError(
      `common model 1 is ${block.length} registers long, at least ${COMMON_MODEL_MIN_LENGTH} expected`,
    );
  }
  return {
    manufacturer: sunspecString(block, 0, 16),
    model: sunspecString(block, 16, 16),
    version: sunspecString(block, 40, 8),
    serial: sunspecString(block, 48, 16),
  };
}
