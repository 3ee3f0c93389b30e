// SunSpec map discovery (SunSpec Modbus Specification, "Device Modbus map"): the two registers
// "SunS" (0x5375 0x6E53) at a base address, then model after model, each a header of its id and
// its length L in registers followed by L registers of data, until the end model 0xFFFF. We
// look for the common model (1) and the first meter model of 201-204.

import { ModbusExceptionError, type RegisterReader } from './register-reader.js';

/** 'Su' 'nS' */
export const SUNSPEC_MARKER: readonly [number, number] = [0x5375, 0x6e53];
/** Where SunSpec devices put the map, most common first (SunSpec Modbus Specification §4). */
export const DEFAULT_BASE_ADDRESSES: readonly number[] = [40_000, 0, 50_000];
export const COMMON_MODEL_ID = 1;
/** Single phase, split phase, three-phase wye, three-phase delta; integer + scale factor. */
export const METER_MODEL_IDS: readonly number[] = [201, 202, 203, 204];
export const END_MODEL_ID = 0xffff;

/** A bound on the walk, so a corrupt map cannot keep us reading forever. */
const MAX_MODELS = 100;

export interface ModelLocation {
  id: number;
  /** Address of the first data register, just after the id and length header. */
  address: number;
  length: number;
}

export interface SunSpecMap {
  baseAddress: number;
  common: ModelLocation | null;
  meter: ModelLocation;
  /** Every model passed on the way, in map order (for logs and error messages). */
  modelIds: number[];
}

export type SunSpecDiscoveryErrorCode = 'no-marker' | 'no-meter-model';

/** The device answers, but its map is not one we can read a meter from. */
export class SunSpecDiscoveryError extends Error {
  readonly code: SunSpecDiscoveryErrorCode;

  constructor(code: SunSpecDiscoveryErrorCode, message: string) {
    super(message);
    this.name = 'SunSpecDiscoveryError';
    this.code = code;
  }
}

/**
 * The first base address whose two registers read "SunS". A Modbus exception there means "not
 * here", so the next candidate is tried; a link failure (timeout, closed) rejects at once.
 */
export async function findSunSpecBase(
  reader: RegisterReader,
  candidates: readonly number[] = DEFAULT_BASE_ADDRESSES,
): Promise<number> {
  for (const base of candidates) {
    let registers: number[];
    try {
      registers = await reader.read(base, 2);
    } catch (error) {
      if (error instanceof ModbusExceptionError) continue;
      throw error;
    }
    if (registers[0] === SUNSPEC_MARKER[0] && registers[1] === SUNSPEC_MARKER[1]) return base;
  }
  throw new SunSpecDiscoveryError(
    'no-marker',
    `no SunSpec marker "SunS" at register ${candidates.join(', ')}`,
  );
}

/** Walks the model headers from `baseAddress` (where "SunS" is) to the meter model. */
export async function walkSunSpecMap(
  reader: RegisterReader,
  baseAddress: number,
): Promise<SunSpecMap> {
  let address = baseAddress + 2;
  let common: ModelLocation | null = null;
  const modelIds: number[] = [];
  for (let n = 0; n < MAX_MODELS && address + 2 <= 0x1_0000; n += 1) {
    let header: number[];
    try {
      header = await reader.read(address, 2);
    } catch (error) {
      // Some devices end the map without the 0xFFFF model: reading past it is refused.
      if (error instanceof ModbusExceptionError) break;
      throw error;
    }
    const [id = END_MODEL_ID, length = 0] = header;
    if (id === END_MODEL_ID) break;
    modelIds.push(id);
    const location = { id, address: address + 2, length };
    if (id === COMMON_MODEL_ID && common === null) common = location;
    if (METER_MODEL_IDS.includes(id)) return { baseAddress, common, meter: location, modelIds };
    address += 2 + length;
  }
  const seen = modelIds.length > 0 ? `models ${modelIds.join(', ')}` : 'no models';
  throw new SunSpecDiscoveryError(
    'no-meter-model',
    `no SunSpec meter model (201-204) in the map at register ${baseAddress} (${seen})`,
  );
}

/** Marker, then the walk: the configured base only, or the usual candidates. */
export async function discoverSunSpecMap(
  reader: RegisterReader,
  baseAddress?: number,
): Promise<SunSpecMap> {
  const base = await findSunSpecBase(
    reader,
    baseAddress === undefined ? DEFAULT_BASE_ADDRESSES : [baseAddress],
  );
  return walkSunSpecMap(reader, base);
}
