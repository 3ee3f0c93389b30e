// Reading a discovered SunSpec device: its identity (common model 1) once, its meter model
// (201-204) on every poll. One span read each, split into requests of at most 125 registers.

import { type RegisterReader, readSpan } from './register-reader.js';
import { decodeCommonModel, type SunSpecIdentity } from './sunspec-common.js';
import type { SunSpecMap } from './sunspec-map.js';
import { decodeMeterModel, type SunSpecMeterSample } from './sunspec-meter-model.js';

const UNKNOWN_IDENTITY: SunSpecIdentity = { manufacturer: '', model: '', version: '', serial: '' };

/** Manufacturer, model, version and serial; empty strings when the map has no model 1. */
export async function readSunSpecIdentity(
  reader: RegisterReader,
  map: SunSpecMap,
): Promise<SunSpecIdentity> {
  if (map.common === null) return UNKNOWN_IDENTITY;
  const block = await readSpan(reader, map.common.address, map.common.length);
  return decodeCommonModel(block);
}

export async function readSunSpecMeter(
  reader: RegisterReader,
  map: SunSpecMap,
): Promise<SunSpecMeterSample> {
  const block = await readSpan(reader, map.meter.address, map.meter.length);
  return decodeMeterModel(map.meter.id, block);
}
