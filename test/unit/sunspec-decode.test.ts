import { describe, expect, it } from 'vitest';
import { decodeCommonModel } from '../../meter-agent/meter/modbus/sunspec-common.js';
import { decodeMeterModel } from '../../meter-agent/meter/modbus/sunspec-meter-model.js';
import { renderSunSpecRegisters } from '../../meter-agent/meter/modbus/sunspec-registers.js';
import {
  acc32,
  bitfield32,
  int16,
  int32,
  scaled,
  sunspecString,
  sunssf,
  uint16,
  uint32,
} from '../../meter-agent/meter/modbus/sunspec-values.js';
import { OBIS } from '../../meter-agent/meter/obis.js';
import { commonBlock, meterBlock, stringRegisters } from './helpers/sunspec-fake.js';

// SunSpec point decoding: types and "not implemented" values, scale factors, models 1 and
// 201-204, and their mapping onto our OBIS registers (PROTOCOL §6).

describe('SunSpec point types', () => {
  it('reads int16 as two’s complement and 0x8000 as not implemented', () => {
    expect(int16([0x7fff], 0)).toBe(32767);
    expect(int16([0xfe5c], 0)).toBe(-420);
    expect(int16([0x8000], 0)).toBeNull();
    expect(int16([0], 0)).toBe(0);
  });

  it('reads uint16 with 0xFFFF as not implemented', () => {
    expect(uint16([0xfffe], 0)).toBe(65534);
    expect(uint16([0xffff], 0)).toBeNull();
  });

  it('reads 32-bit values high word first', () => {
    expect(uint32([0x0012, 0xd687], 0)).toBe(1_234_567);
    expect(uint32([0xffff, 0xffff], 0)).toBeNull();
    expect(int32([0xffff, 0xfffe], 0)).toBe(-2);
    expect(int32([0x8000, 0x0000], 0)).toBeNull();
    expect(acc32([0xffff, 0xfffe], 0)).toBe(0xffff_fffe);
    expect(acc32([0, 0], 0)).toBe(0);
    expect(bitfield32([0, 4], 0)).toBe(4);
    expect(bitfield32([0xffff, 0xffff], 0)).toBeNull();
  });

  it('takes scale factors from -10 to 10, else not implemented', () => {
    expect(sunssf([0xfffe], 0)).toBe(-2);
    expect(sunssf([3], 0)).toBe(3);
    expect(sunssf([0x8000], 0)).toBeNull();
    expect(sunssf([11], 0)).toBeNull();
  });

  it('scales exactly, and not at all when either part is not implemented', () => {
    expect(scaled(2301, -1)).toBe(230.1);
    expect(scaled(5002, -2)).toBe(50.02);
    expect(scaled(1_234_567, 1)).toBe(12_345_670);
    expect(scaled(-420, 0)).toBe(-420);
    expect(scaled(null, -1)).toBeNull();
    expect(scaled(2301, null)).toBeNull();
  });

  it('reads strings up to the first NUL', () => {
    expect(sunspecString(stringRegisters('GP-M203', 8), 0, 8)).toBe('GP-M203');
    expect(sunspecString(stringRegisters('odd', 2), 0, 2)).toBe('odd');
    expect(sunspecString(stringRegisters('', 4), 0, 4)).toBe('');
  });

  it('refuses an offset outside the block instead of reading undefined', () => {
    expect(() => int16([1, 2], 2)).toThrow(RangeError);
  });
});

describe('common model 1', () => {
  it('decodes manufacturer, model, version and serial', () => {
    const identity = {
      manufacturer: 'Gridpresence Labs',
      model: 'GP-M203',
      version: '2.1.0',
      serial: 'SN-203-0001',
    };
    expect(decodeCommonModel(commonBlock(identity))).toEqual(identity);
    // L = 65: no Pad register.
    expect(decodeCommonModel(commonBlock(identity).slice(0, 65))).toEqual(identity);
  });

  it('refuses a block shorter than the model', () => {
    expect(() => decodeCommonModel(new Array(40).fill(0))).toThrow(/at least 65/);
  });
});

const WYE = meterBlock({
  A: 1525,
  AphA: 512,
  AphB: 498,
  AphC: 515,
  A_SF: -2,
  PhV: 2302,
  PhVphA: 2301,
  PhVphB: 2298,
  PhVphC: 2307,
  PhVphAB: 3984,
  PhVphBC: 3983,
  PhVphCA: 3988,
  V_SF: -1,
  Hz: 5002,
  Hz_SF: -2,
  W: 3456,
  W_SF: 0,
  VA: 3600,
  VA_SF: 0,
  VAR: -420,
  VAR_SF: 0,
  PF: 960,
  PF_SF: -1,
  TotWhExp: 4321,
  TotWhImp: 1_234_567,
  TotWh_SF: 1,
  Evt: 0,
});

describe('meter models 201-204', () => {
  it('decodes a three-phase wye meter (203) with its scale factors', () => {
    const sample = decodeMeterModel(203, WYE);
    expect(sample).toMatchObject({
      modelId: 203,
      currentA: 15.25,
      phaseCurrentsA: [5.12, 4.98, 5.15],
      phaseVoltagesV: [230.1, 229.8, 230.7],
      lineVoltagesV: [398.4, 398.3, 398.8],
      frequencyHz: 50.02,
      powerW: 3456,
      apparentPowerVa: 3600,
      reactivePowerVar: -420,
      powerFactor: 0.96,
      energyImportWh: 12_345_670,
      energyExportWh: 43_210,
      eventBits: 0,
    });
  });

  it('gives null for the phases a single-phase meter (201) does not have', () => {
    const sample = decodeMeterModel(
      201,
      meterBlock({ AphA: 731, A_SF: -2, PhVphA: 2312, V_SF: -1, W: -1250, W_SF: 0 }),
    );
    expect(sample.phaseCurrentsA).toEqual([7.31, null, null]);
    expect(sample.phaseVoltagesV).toEqual([231.2, null, null]);
    expect(sample.frequencyHz).toBeNull();
    expect(sample.powerW).toBe(-1250);
    expect(sample.eventBits).toBeNull();
  });

  it('gives null for every point of a scale factor that is not implemented', () => {
    const sample = decodeMeterModel(203, meterBlock({ AphA: 512, PhVphA: 2301, V_SF: -1 }));
    expect(sample.phaseCurrentsA[0]).toBeNull();
    expect(sample.phaseVoltagesV[0]).toBe(230.1);
  });

  it('refuses a block shorter than 105 registers', () => {
    expect(() => decodeMeterModel(203, WYE.slice(0, 100))).toThrow(/105 expected/);
  });
});

describe('SunSpec points as OBIS registers', () => {
  const inputs = (sample: ReturnType<typeof decodeMeterModel> | null) => ({
    sample,
    sagCount: 2,
    swellCount: 1,
    meterId: 'mtr-0001',
  });

  it('maps every implemented point onto our ids, units and precision', () => {
    const values = renderSunSpecRegisters(inputs(decodeMeterModel(203, WYE)));
    expect(Object.fromEntries(values.map((v) => [v.id, `${v.value} ${v.unit}`.trim()]))).toEqual({
      [OBIS.energyImport]: '12345.670 kWh',
      [OBIS.energyExport]: '43.210 kWh',
      [OBIS.powerImport]: '3.456 kW',
      [OBIS.powerExport]: '0.000 kW',
      [OBIS.voltageL1]: '230.1 V',
      [OBIS.voltageL2]: '229.8 V',
      [OBIS.voltageL3]: '230.7 V',
      [OBIS.currentL1]: '5.12 A',
      [OBIS.currentL2]: '4.98 A',
      [OBIS.currentL3]: '5.15 A',
      [OBIS.frequency]: '50.020 Hz',
      [OBIS.powerFactor]: '0.960',
      [OBIS.sagCount]: '2',
      [OBIS.swellCount]: '1',
      [OBIS.meterId]: 'mtr-0001',
    });
  });

  it('turns negative power into export and leaves out the phases that are not there', () => {
    const sample = decodeMeterModel(
      201,
      meterBlock({ AphA: 731, A_SF: -2, PhVphA: 2312, V_SF: -1, W: -1250, W_SF: 0 }),
    );
    const ids = renderSunSpecRegisters(inputs(sample)).map((v) => v.id);
    expect(ids).toContain(OBIS.voltageL1);
    expect(ids).not.toContain(OBIS.voltageL2);
    expect(ids).not.toContain(OBIS.currentL3);
    expect(ids).not.toContain(OBIS.frequency);
    const byId = new Map(renderSunSpecRegisters(inputs(sample)).map((v) => [v.id, v.value]));
    expect(byId.get(OBIS.powerImport)).toBe('0.000');
    expect(byId.get(OBIS.powerExport)).toBe('1.250');
  });

  it('reads line-to-line voltages for a delta meter (204), which has no neutral', () => {
    const sample = decodeMeterModel(
      204,
      meterBlock({ PhVphAB: 4001, PhVphBC: 3998, PhVphCA: 4003, V_SF: -1 }),
    );
    const values = renderSunSpecRegisters(inputs(sample), [OBIS.voltageL1, OBIS.voltageL3]);
    expect(values.map((v) => v.value)).toEqual(['400.1', '400.3']);
  });

  it('answers the ids asked for, in that order, once each', () => {
    const values = renderSunSpecRegisters(inputs(decodeMeterModel(203, WYE)), [
      OBIS.frequency,
      OBIS.voltageL1,
      OBIS.frequency,
      'nonsense',
      OBIS.voltageThd,
    ]);
    expect(values.map((v) => v.id)).toEqual([OBIS.frequency, OBIS.voltageL1]);
  });

  it('has only the counters and the meter id before the first poll', () => {
    expect(renderSunSpecRegisters(inputs(null)).map((v) => v.id)).toEqual([
      OBIS.sagCount,
      OBIS.swellCount,
      OBIS.meterId,
    ]);
  });
});
