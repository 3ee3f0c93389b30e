// "Is there a SunSpec meter at this address?", asked once: connect, find the map, read the
// identity and one poll of the meter model, disconnect. `meter-agent doctor` calls this for its
// meter link check; every failure is an Error whose message says what went wrong where
// (connection refused, timed out, no SunSpec marker, no meter model).

import { openModbusLink } from './modbus-link.js';
import { readSunSpecIdentity, readSunSpecMeter } from './sunspec-device.js';
import { discoverSunSpecMap, SunSpecDiscoveryError } from './sunspec-map.js';

export interface ModbusProbeOptions {
  host: string;
  port: number;
  unitId: number;
  /** Where "SunS" is; left out, 40000, 0 and 50000 are tried. */
  baseAddress?: number;
  timeoutMs: number;
}

export interface ModbusProbeResult {
  manufacturer: string;
  model: string;
  serial: string;
  /** 201, 202, 203 or 204. */
  sunspecModel: number;
  baseAddress: number;
}

export async function probeModbusMeter(options: ModbusProbeOptions): Promise<ModbusProbeResult> {
  const link = await openModbusLink(options);
  try {
    const map = await discoverSunSpecMap(link, options.baseAddress);
    const identity = await readSunSpecIdentity(link, map);
    // One real poll: a map that points at registers the meter cannot serve is no meter link.
    await readSunSpecMeter(link, map);
    return {
      manufacturer: identity.manufacturer,
      model: identity.model,
      serial: identity.serial,
      sunspecModel: map.meter.id,
      baseAddress: map.baseAddress,
    };
  } catch (error) {
    if (error instanceof SunSpecDiscoveryError) {
      throw new SunSpecDiscoveryError(
        error.code,
        `unit ${options.unitId} at ${options.host}:${options.port}: ${error.message}`,
      );
    }
    throw error;
  } finally {
    link.close();
  }
}
