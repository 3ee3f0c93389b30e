import { describe, expect, it } from 'vitest';
import { ModbusLinkError } from '../../meter-agent/meter/modbus/modbus-link.js';
import { readSpan } from '../../meter-agent/meter/modbus/register-reader.js';
import {
  readSunSpecIdentity,
  readSunSpecMeter,
} from '../../meter-agent/meter/modbus/sunspec-device.js';
import {
  discoverSunSpecMap,
  SunSpecDiscoveryError,
} from '../../meter-agent/meter/modbus/sunspec-map.js';
import { commonBlock, fakeReader, meterBlock, sunspecMap } from './helpers/sunspec-fake.js';

// SunSpec map discovery: the "SunS" marker at one of the usual base addresses, the walk over
// model headers to model 1 and the first meter model (201-204), and the errors a technician
// reads when there is none.

const IDENTITY = { manufacturer: 'ACME', model: 'M-3', version: '1.0', serial: 'S-1' };

describe('discoverSunSpecMap', () => {
  it('finds the map at 40000 and walks past other models to the meter model', async () => {
    const reader = fakeReader(
      sunspecMap(40_000, [
        { id: 1, block: commonBlock(IDENTITY) },
        { id: 64_001, block: [1, 2, 3] },
        { id: 203, block: meterBlock({ W: 100, W_SF: 0 }) },
      ]),
    );
    const map = await discoverSunSpecMap(reader);
    expect(map).toEqual({
      baseAddress: 40_000,
      common: { id: 1, address: 40_004, length: 66 },
      meter: { id: 203, address: 40_004 + 66 + 2 + 3 + 2, length: 105 },
      modelIds: [1, 64_001, 203],
    });
    expect(await readSunSpecIdentity(reader, map)).toEqual(IDENTITY);
    expect((await readSunSpecMeter(reader, map)).powerW).toBe(100);
  });

  it('tries 0 and then 50000 when 40000 answers with an exception or no marker', async () => {
    const atZero = fakeReader(sunspecMap(0, [{ id: 201, block: meterBlock({}) }]));
    expect((await discoverSunSpecMap(atZero)).baseAddress).toBe(0);

    const registers = sunspecMap(50_000, [{ id: 202, block: meterBlock({}) }]);
    registers.set(40_000, 0).set(40_001, 0); // something else lives at 40000
    const at50000 = fakeReader(registers);
    const map = await discoverSunSpecMap(at50000);
    expect(map.baseAddress).toBe(50_000);
    expect(map.common).toBeNull();
    expect(map.meter.id).toBe(202);
  });

  it('reads only the configured base address when one is given', async () => {
    const reader = fakeReader(sunspecMap(1000, [{ id: 204, block: meterBlock({}) }]));
    expect((await discoverSunSpecMap(reader, 1000)).meter.id).toBe(204);
    await expect(discoverSunSpecMap(reader, 40_000)).rejects.toThrow(
      'no SunSpec marker "SunS" at register 40000',
    );
  });

  it('says so when there is no marker anywhere', async () => {
    const error = await discoverSunSpecMap(fakeReader(new Map())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SunSpecDiscoveryError);
    expect(error).toMatchObject({
      code: 'no-marker',
      message: 'no SunSpec marker "SunS" at register 40000, 0, 50000',
    });
  });

  it('says which models it found when none is a meter', async () => {
    const reader = fakeReader(
      sunspecMap(40_000, [
        { id: 1, block: commonBlock(IDENTITY) },
        { id: 101, block: new Array(50).fill(0) },
      ]),
    );
    await expect(discoverSunSpecMap(reader)).rejects.toMatchObject({
      code: 'no-meter-model',
      message: 'no SunSpec meter model (201-204) in the map at register 40000 (models 1, 101)',
    });
  });

  it('treats a map that ends without the end model as ended', async () => {
    const reader = fakeReader(
      sunspecMap(40_000, [{ id: 1, block: commonBlock(IDENTITY) }], { noEnd: true }),
    );
    await expect(discoverSunSpecMap(reader)).rejects.toMatchObject({ code: 'no-meter-model' });
  });

  it('passes a link failure on instead of trying the next address', async () => {
    const reader = {
      read: async () => {
        throw new ModbusLinkError('timeout', 'timed out');
      },
    };
    await expect(discoverSunSpecMap(reader)).rejects.toBeInstanceOf(ModbusLinkError);
  });
});

describe('readSpan', () => {
  it('splits long reads into requests of at most 125 registers', async () => {
    const registers = new Map(Array.from({ length: 300 }, (_, i) => [i, i] as [number, number]));
    const reader = fakeReader(registers);
    const values = await readSpan(reader, 10, 260);
    expect(values).toEqual(Array.from({ length: 260 }, (_, i) => i + 10));
    expect(reader.requests).toEqual([
      { address: 10, count: 125 },
      { address: 135, count: 125 },
      { address: 260, count: 10 },
    ]);
  });
});
