import { afterEach, describe, expect, it, vi } from 'vitest';
import { MeterControlError } from '../../meter-agent/meter/errors.js';
import { type ModbusLink, ModbusLinkError } from '../../meter-agent/meter/modbus/modbus-link.js';
import { createModbusMeter } from '../../meter-agent/meter/modbus/modbus-meter.js';
import { METER_POINTS } from '../../meter-agent/meter/modbus/sunspec-meter-model.js';
import type { MeterCondition, MeterEvent, MeterModel } from '../../meter-agent/meter/model.js';
import { OBIS } from '../../meter-agent/meter/obis.js';
import { silentLogger } from '../../src/log.js';
import { commonBlock, fakeReader, meterBlock, sunspecMap } from './helpers/sunspec-fake.js';

// The Modbus meter driver over an in-memory device: polling into readRegisters(), Evt edges into
// events and condition, a lost link into sensorFailure and back, and stop() releasing it all.

const BASE = 40_000;
const METER_DATA = BASE + 2 + 2 + 66 + 2; // "SunS", model 1 header and data, model 203 header
const EVT = METER_DATA + METER_POINTS.Evt;

function device() {
  const registers = sunspecMap(BASE, [
    {
      id: 1,
      block: commonBlock({ manufacturer: 'ACME', model: 'M-3', version: '1', serial: 'S-9' }),
    },
    {
      id: 203,
      block: meterBlock({
        PhVphA: 2301,
        PhVphB: 2298,
        PhVphC: 1900,
        V_SF: -1,
        AphA: 512,
        A_SF: -2,
        W: 3456,
        W_SF: 0,
        Evt: 0,
      }),
    },
  ]);
  let up = true;
  let connects = 0;
  const opened: Array<{ closed: boolean }> = [];
  const connect = async (): Promise<ModbusLink> => {
    connects += 1;
    if (!up) throw new ModbusLinkError('connection-refused', 'connecting: connection refused');
    const reader = fakeReader(registers);
    const state = { closed: false };
    opened.push(state);
    return {
      get isOpen() {
        return !state.closed && up;
      },
      close: () => {
        state.closed = true;
      },
      read: (address, count) => {
        if (!up || state.closed) {
          return Promise.reject(new ModbusLinkError('closed', 'connection lost'));
        }
        return reader.read(address, count);
      },
    };
  };
  return {
    connect,
    setEvt: (bits: number) => {
      registers.set(EVT, Math.floor(bits / 0x1_0000));
      registers.set(EVT + 1, bits & 0xffff);
    },
    setUp: (value: boolean) => {
      up = value;
    },
    get connects() {
      return connects;
    },
    opened,
  };
}

let meter: MeterModel | undefined;
afterEach(() => meter?.stop());

function start(dev: ReturnType<typeof device>) {
  const events: MeterEvent[] = [];
  const conditions: MeterCondition[] = [];
  meter = createModbusMeter({
    meterId: 'mtr-0001',
    kind: 'revenue-meter',
    host: 'meter.test',
    port: 502,
    unitId: 1,
    pollIntervalMs: 10,
    timeoutMs: 100,
    backoffMaxMs: 40,
    nominalVoltageV: 230,
    logger: silentLogger(),
    connect: dev.connect,
  });
  meter.onEvent((e) => events.push(e));
  meter.onCondition((c) => conditions.push(c));
  meter.start();
  return { meter, events, conditions };
}

const value = (m: MeterModel, id: string) => m.readRegisters([id])[0]?.value;

describe('the Modbus meter driver', () => {
  it('polls the meter model and answers readRegisters from the last good poll', async () => {
    const { meter } = start(device());
    expect(meter.condition().sensorFailure).toBe(false);
    await vi.waitFor(() => expect(value(meter, OBIS.voltageL1)).toBe('230.1'));
    expect(value(meter, OBIS.currentL1)).toBe('5.12');
    expect(value(meter, OBIS.powerImport)).toBe('3.456');
    expect(value(meter, OBIS.meterId)).toBe('mtr-0001');
  });

  it('fires events on Evt edges only, and holds onBattery during a power failure', async () => {
    const dev = device();
    const { meter, events } = start(dev);
    await vi.waitFor(() => expect(value(meter, OBIS.voltageL1)).toBe('230.1'));

    dev.setEvt(2 ** 2 + 2 ** 3); // power failure and under voltage
    await vi.waitFor(() => expect(meter.condition().onBattery).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 50)); // several more polls
    expect(events.map((e) => [e.type, e.detail, e.phase])).toEqual([
      ['interruption', 'start', undefined],
      ['sag', undefined, 'L3'],
    ]);
    expect(events[1]?.magnitude).toBe(0.826);
    expect(value(meter, OBIS.sagCount)).toBe('1');

    dev.setEvt(0);
    await vi.waitFor(() => expect(meter.condition().onBattery).toBe(false));
    expect(events).toHaveLength(3);
    expect(events[2]).toMatchObject({ type: 'interruption', detail: 'end' });
    expect(events[2]?.durationMs).toBeGreaterThan(0);
  });

  it('marks a missing sensor as a sensor failure', async () => {
    const dev = device();
    const { meter } = start(dev);
    dev.setEvt(2 ** 7);
    await vi.waitFor(() => expect(meter.condition().sensorFailure).toBe(true));
    dev.setEvt(0);
    await vi.waitFor(() => expect(meter.condition().sensorFailure).toBe(false));
  });

  it('turns a lost link into sensorFailure, keeps the last readings, and recovers', async () => {
    const dev = device();
    const { meter, conditions } = start(dev);
    await vi.waitFor(() => expect(value(meter, OBIS.voltageL1)).toBe('230.1'));

    dev.setUp(false);
    await vi.waitFor(() => expect(meter.condition().sensorFailure).toBe(true));
    expect(value(meter, OBIS.voltageL1)).toBe('230.1');
    const attempts = dev.connects;
    await vi.waitFor(() => expect(dev.connects).toBeGreaterThan(attempts + 1));

    dev.setUp(true);
    await vi.waitFor(() => expect(meter.condition().sensorFailure).toBe(false));
    // Once down, once back up: no flapping in between.
    expect(conditions.map((c) => c.sensorFailure)).toEqual([true, false]);
    expect(dev.opened.filter((l) => !l.closed)).toHaveLength(1);
  });

  it('starts in sensor failure when the meter cannot be reached at all', async () => {
    const dev = device();
    dev.setUp(false);
    const { meter } = start(dev);
    await vi.waitFor(() => expect(meter.condition().sensorFailure).toBe(true));
    expect(meter.readRegisters().map((v) => v.id)).toEqual([
      OBIS.sagCount,
      OBIS.swellCount,
      OBIS.meterId,
    ]);
  });

  it('stops polling and closes the link on stop', async () => {
    const dev = device();
    const { meter } = start(dev);
    await vi.waitFor(() => expect(value(meter, OBIS.voltageL1)).toBe('230.1'));
    meter.stop();
    const connects = dev.connects;
    dev.setUp(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dev.connects).toBe(connects);
    expect(meter.condition().sensorFailure).toBe(false);
    expect(dev.opened.every((l) => l.closed)).toBe(true);
  });

  it('has no relay and no load limit control', () => {
    const { meter } = start(device());
    expect(meter.supportsRelay).toBe(false);
    expect(meter.supportsLoadLimit).toBe(false);
    expect(() => meter.setRelay('open')).toThrow(MeterControlError);
    expect(() => meter.setRelay('open')).toThrow(/has no service relay/);
    expect(() => meter.setLoadLimit(5)).toThrow(MeterControlError);
  });
});
