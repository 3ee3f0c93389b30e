import { describe, expect, it } from 'vitest';
import {
  conditionOfEventBits,
  eventBitName,
  eventEdges,
  eventOfEdge,
  METER_EVENT_BITS,
} from '../../meter-agent/meter/modbus/sunspec-events.js';
import { decodeMeterModel } from '../../meter-agent/meter/modbus/sunspec-meter-model.js';
import { meterBlock } from './helpers/sunspec-fake.js';

// The Evt bitfield of meter models 201-204: edges only, each mapped onto a PROTOCOL §6 event
// type (or none), and the condition the bits hold while set.

const bit = (name: keyof typeof METER_EVENT_BITS) => 2 ** METER_EVENT_BITS[name];
const POWER_FAILURE = bit('M_EVENT_Power_Failure');
const UNDER_VOLTAGE = bit('M_EVENT_Under_Voltage');
const OVER_VOLTAGE = bit('M_EVENT_Over_Voltage');
const MISSING_SENSOR = bit('M_EVENT_Missing_Sensor');

const sample = decodeMeterModel(
  203,
  meterBlock({ PhVphA: 2301, PhVphB: 1955, PhVphC: 2650, V_SF: -1 }),
);
const context = { sample, nominalVoltageV: 230 };

describe('eventEdges', () => {
  it('reports a bit once when it rises and once when it falls, never while it stays', () => {
    expect(eventEdges(0, POWER_FAILURE)).toEqual([
      { bit: 2, name: 'M_EVENT_Power_Failure', rising: true },
    ]);
    expect(eventEdges(POWER_FAILURE, POWER_FAILURE)).toEqual([]);
    expect(eventEdges(POWER_FAILURE, 0)).toEqual([
      { bit: 2, name: 'M_EVENT_Power_Failure', rising: false },
    ]);
  });

  it('reports several bits at once, lowest first, including the top bit', () => {
    const edges = eventEdges(UNDER_VOLTAGE, OVER_VOLTAGE + 2 ** 31);
    expect(edges.map((e) => [e.name, e.rising])).toEqual([
      ['M_EVENT_Under_Voltage', false],
      ['M_EVENT_Over_Voltage', true],
      ['bit 31', true],
    ]);
  });

  it('names the reserved and OEM bits as SunSpec does', () => {
    expect(eventBitName(8)).toBe('M_EVENT_Reserved1');
    expect(eventBitName(15)).toBe('M_EVENT_Reserved8');
    expect(eventBitName(16)).toBe('M_EVENT_OEM01');
    expect(eventBitName(30)).toBe('M_EVENT_OEM15');
  });
});

describe('eventOfEdge', () => {
  const edge = (name: keyof typeof METER_EVENT_BITS, rising: boolean) => ({
    bit: METER_EVENT_BITS[name],
    name,
    rising,
  });

  it('makes a power failure an interruption, with its duration at the end', () => {
    expect(eventOfEdge(edge('M_EVENT_Power_Failure', true), context)).toEqual({
      type: 'interruption',
      detail: 'start',
    });
    expect(
      eventOfEdge(edge('M_EVENT_Power_Failure', false), { ...context, interruptionMs: 4200 }),
    ).toEqual({ type: 'interruption', detail: 'end', durationMs: 4200 });
    expect(eventOfEdge(edge('M_EVENT_Power_Failure', false), context)).toEqual({
      type: 'interruption',
      detail: 'end',
    });
  });

  it('makes under voltage a sag on the lowest phase and over voltage a swell on the highest', () => {
    expect(eventOfEdge(edge('M_EVENT_Under_Voltage', true), context)).toEqual({
      type: 'sag',
      phase: 'L2',
      magnitude: 0.85,
    });
    expect(eventOfEdge(edge('M_EVENT_Over_Voltage', true), context)).toEqual({
      type: 'swell',
      phase: 'L3',
      magnitude: 1.152,
    });
  });

  it('gives a sag without phase or magnitude when the meter reports no voltage', () => {
    const blind = { sample: decodeMeterModel(203, meterBlock({})), nominalVoltageV: 230 };
    expect(eventOfEdge(edge('M_EVENT_Under_Voltage', true), blind)).toEqual({ type: 'sag' });
  });

  it('makes nothing of the falling edge of a sag or swell, nor of low PF, over current, or a missing sensor', () => {
    expect(eventOfEdge(edge('M_EVENT_Under_Voltage', false), context)).toBeNull();
    expect(eventOfEdge(edge('M_EVENT_Over_Voltage', false), context)).toBeNull();
    expect(eventOfEdge(edge('M_EVENT_Low_PF', true), context)).toBeNull();
    expect(eventOfEdge(edge('M_EVENT_Over_Current', true), context)).toBeNull();
    expect(eventOfEdge(edge('M_EVENT_Missing_Sensor', true), context)).toBeNull();
    expect(eventOfEdge({ bit: 20, name: 'M_EVENT_OEM05', rising: true }, context)).toBeNull();
  });
});

describe('conditionOfEventBits', () => {
  it('holds onBattery during a power failure and a sensor failure while a sensor is missing', () => {
    expect(conditionOfEventBits(0)).toEqual({ onBattery: false, missingSensor: false });
    expect(conditionOfEventBits(POWER_FAILURE | UNDER_VOLTAGE)).toEqual({
      onBattery: true,
      missingSensor: false,
    });
    expect(conditionOfEventBits(MISSING_SENSOR)).toEqual({
      onBattery: false,
      missingSensor: true,
    });
  });
});
