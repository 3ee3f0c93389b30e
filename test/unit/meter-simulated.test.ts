import { afterEach, describe, expect, it, vi } from 'vitest';
import { MeterControlError } from '../../meter-agent/meter/errors.js';
import type { MeterCondition, MeterEvent } from '../../meter-agent/meter/model.js';
import { MINIMUM_REGISTER_IDS, OBIS } from '../../meter-agent/meter/obis.js';
import {
  type Clock,
  createSimulatedMeter,
  isSimulationInjection,
  SIMULATION_INJECTIONS,
  type SimulatedMeter,
  type SimulatedMeterOptions,
  type SimulationInjection,
} from '../../meter-agent/meter/simulated-meter.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const MIDNIGHT = Date.UTC(2026, 10, 27, 0, 0, 0);

/** A clock whose timers fire only when the test advances it, in time order. */
function createManualClock(startMs: number) {
  let nowMs = startMs;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: Clock & { advance(ms: number): void; pending(): number } = {
    now: () => new Date(nowMs),
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: nowMs + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const end = nowMs + ms;
      for (;;) {
        let earliest: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers) {
          if (entry[1].at <= end && (earliest === undefined || entry[1].at < earliest[1].at)) {
            earliest = entry;
          }
        }
        if (earliest === undefined) break;
        timers.delete(earliest[0]);
        nowMs = earliest[1].at;
        earliest[1].fn();
      }
      nowMs = end;
    },
    pending: () => timers.size,
  };
  return clock;
}

function value(meter: SimulatedMeter, id: string): number {
  const register = meter.readRegisters([id])[0];
  if (register === undefined) throw new Error(`no register ${id}`);
  return Number(register.value);
}

function record(meter: SimulatedMeter) {
  const events: MeterEvent[] = [];
  const conditions: MeterCondition[] = [];
  meter.onEvent((e) => events.push(e));
  meter.onCondition((c) => conditions.push(c));
  return { events, conditions };
}

function quietMeter(extra: Partial<SimulatedMeterOptions> = {}) {
  const clock = createManualClock(MIDNIGHT + 12 * HOUR);
  const meter = createSimulatedMeter({
    meterId: 'mtr-000123',
    seed: 1,
    clock,
    eventRatePerHour: 0,
    ...extra,
  });
  return { clock, meter };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('simulated meter registers', () => {
  it('reports the PROTOCOL §6 minimum register set with the right units', () => {
    const { meter } = quietMeter();
    const registers = meter.readRegisters();
    expect(registers.map((r) => r.id)).toEqual(MINIMUM_REGISTER_IDS);
    const units = Object.fromEntries(registers.map((r) => [r.id, r.unit]));
    expect(units).toEqual({
      '1-0:1.8.0': 'kWh',
      '1-0:2.8.0': 'kWh',
      '1-0:1.7.0': 'kW',
      '1-0:2.7.0': 'kW',
      '1-0:32.7.0': 'V',
      '1-0:52.7.0': 'V',
      '1-0:72.7.0': 'V',
      '1-0:31.7.0': 'A',
      '1-0:51.7.0': 'A',
      '1-0:71.7.0': 'A',
      '1-0:14.7.0': 'Hz',
      '1-0:13.7.0': '',
      '1-0:32.7.124': '%',
      '1-0:32.32.0': '',
      '1-0:32.36.0': '',
      '0-0:96.3.10': '',
      '0-0:96.1.1': '',
    });
    const values = Object.fromEntries(registers.map((r) => [r.id, r.value]));
    expect(values[OBIS.meterId]).toBe('mtr-000123');
    expect(values[OBIS.relayState]).toBe('1');
    expect(values[OBIS.sagCount]).toBe('0');
    expect(values[OBIS.energyImport]).toMatch(/^\d+\.\d{3}$/);
    expect(values[OBIS.voltageL1]).toMatch(/^\d+\.\d$/);
    expect(values[OBIS.currentL1]).toMatch(/^\d+\.\d{2}$/);
    expect(values[OBIS.frequency]).toMatch(/^\d+\.\d{3}$/);
    expect(values[OBIS.powerFactor]).toMatch(/^\d\.\d{3}$/);
  });

  it('returns requested registers in the order asked, skipping unknown ids and repeats', () => {
    const { meter } = quietMeter();
    const ids = meter
      .readRegisters([OBIS.frequency, ' 9-9:9.9.9', OBIS.energyImport, OBIS.frequency])
      .map((r) => r.id);
    expect(ids).toEqual([OBIS.frequency, OBIS.energyImport]);
    expect(meter.readRegisters([])).toHaveLength(MINIMUM_REGISTER_IDS.length);
  });

  it('reports zero voltage and current on L2/L3 of a single-phase meter', () => {
    const { meter } = quietMeter({ phases: 1 });
    expect(value(meter, OBIS.voltageL1)).toBeGreaterThan(220);
    expect(value(meter, OBIS.voltageL2)).toBe(0);
    expect(value(meter, OBIS.currentL3)).toBe(0);
  });
});

describe('a simulated day', () => {
  it('keeps readings plausible and energy registers growing, never shrinking', () => {
    vi.useFakeTimers({ now: MIDNIGHT });
    const meter = createSimulatedMeter({
      meterId: 'mtr-1',
      seed: 7,
      pvPeakKw: 3,
      registerTickMs: 5000,
    });
    meter.start();
    let lastImport = value(meter, OBIS.energyImport);
    let lastExport = value(meter, OBIS.energyExport);
    const startImport = lastImport;
    const startExport = lastExport;
    const loadByHour: number[] = [];
    for (let minute = 0; minute < 24 * 60; minute += 5) {
      vi.advanceTimersByTime(5 * MINUTE);
      const importKwh = value(meter, OBIS.energyImport);
      const exportKwh = value(meter, OBIS.energyExport);
      expect(importKwh).toBeGreaterThanOrEqual(lastImport);
      expect(exportKwh).toBeGreaterThanOrEqual(lastExport);
      lastImport = importKwh;
      lastExport = exportKwh;
      if (meter.condition().onBattery) continue;
      for (const id of [OBIS.voltageL1, OBIS.voltageL2, OBIS.voltageL3]) {
        expect(value(meter, id)).toBeGreaterThanOrEqual(225.4);
        expect(value(meter, id)).toBeLessThanOrEqual(234.6);
      }
      expect(Math.abs(value(meter, OBIS.frequency) - 50)).toBeLessThanOrEqual(0.05);
      expect(value(meter, OBIS.powerFactor)).toBeGreaterThanOrEqual(0.85);
      expect(value(meter, OBIS.powerFactor)).toBeLessThanOrEqual(0.99);
      expect(value(meter, OBIS.voltageThd)).toBeGreaterThanOrEqual(1);
      expect(value(meter, OBIS.voltageThd)).toBeLessThanOrEqual(4);
      const hour = Math.floor(minute / 60);
      loadByHour[hour] = (loadByHour[hour] ?? 0) + value(meter, OBIS.powerImport);
    }
    meter.stop();
    expect(lastImport - startImport).toBeGreaterThan(1);
    expect(lastExport - startExport).toBeGreaterThan(0);
    // Evening peak well above the small hours.
    expect(loadByHour[19] ?? 0).toBeGreaterThan(2 * (loadByHour[3] ?? 0));
  });
});

describe('determinism', () => {
  function run(seed: number) {
    const clock = createManualClock(MIDNIGHT);
    const meter = createSimulatedMeter({ meterId: 'mtr-9', seed, clock, eventRatePerHour: 30 });
    const { events, conditions } = record(meter);
    const readings: unknown[] = [];
    meter.start();
    for (let i = 0; i < 6 * 60; i++) {
      clock.advance(MINUTE);
      readings.push(meter.readRegisters());
    }
    meter.stop();
    return { events, conditions, readings };
  }

  it('gives identical registers and events for the same seed and clock', () => {
    const a = run(1234);
    const b = run(1234);
    expect(a.events.length).toBeGreaterThan(50);
    expect(a).toEqual(b);
  });

  it('differs for a different seed', () => {
    const a = run(1234);
    const c = run(4321);
    expect(c.readings).not.toEqual(a.readings);
    expect(c.events).not.toEqual(a.events);
  });

  it('draws random events of the expected kinds, never relay operations', () => {
    const { events } = run(99);
    const types = new Set(events.map((e) => e.type));
    expect(types.has('sag')).toBe(true);
    expect(types.has('relay')).toBe(false);
    for (const e of events.filter((x) => x.type === 'interruption' && x.detail === 'end')) {
      expect(e.durationMs).toBeGreaterThanOrEqual(1000);
      expect(e.durationMs).toBeLessThanOrEqual(30_000);
    }
  });
});

describe('injections', () => {
  it('lists every injection and guards unknown names', () => {
    expect(SIMULATION_INJECTIONS).toHaveLength(16);
    expect(isSimulationInjection('sag')).toBe(true);
    expect(isSimulationInjection('meltdown')).toBe(false);
    expect(isSimulationInjection(3)).toBe(false);
    const { meter } = quietMeter();
    expect(() => meter.inject('meltdown' as SimulationInjection)).toThrow(RangeError);
  });

  type Case = {
    name: SimulationInjection;
    before?: SimulationInjection[];
    condition?: Partial<MeterCondition>;
    event?: Partial<MeterEvent>;
  };
  const cases: Case[] = [
    { name: 'sag', event: { type: 'sag', phase: 'L1', magnitude: 0.8, durationMs: 100 } },
    { name: 'swell', event: { type: 'swell', phase: 'L1', magnitude: 1.15 } },
    { name: 'thd-high', event: { type: 'thd-high', magnitude: 8 } },
    {
      name: 'interruption-start',
      condition: { onBattery: true },
      event: { type: 'interruption', detail: 'start' },
    },
    {
      name: 'interruption-end',
      before: ['interruption-start'],
      condition: { onBattery: false },
      event: { type: 'interruption', detail: 'end' },
    },
    {
      name: 'tamper',
      condition: { tamperSuspected: true },
      event: { type: 'tamper', detail: 'opened' },
    },
    {
      name: 'tamper-clear',
      before: ['tamper'],
      condition: { tamperSuspected: false },
      event: { type: 'tamper', detail: 'cleared' },
    },
    { name: 'relay-open', condition: { relay: 'open' }, event: { type: 'relay', detail: 'open' } },
    {
      name: 'relay-close',
      before: ['relay-open'],
      condition: { relay: 'closed' },
      event: { type: 'relay', detail: 'close' },
    },
    {
      name: 'relay-lockout',
      condition: { relay: 'lockout' },
      event: { type: 'relay', detail: 'lockout' },
    },
    { name: 'fault', condition: { fault: 'metrology-fault' } },
    { name: 'fault-clear', before: ['fault'], condition: { fault: null } },
    { name: 'sensor-failure', condition: { sensorFailure: true } },
    { name: 'sensor-restore', before: ['sensor-failure'], condition: { sensorFailure: false } },
    {
      name: 'clock-lost',
      condition: { clockSynced: false },
      event: { type: 'clock', detail: 'lost' },
    },
    {
      name: 'clock-synced',
      before: ['clock-lost'],
      condition: { clockSynced: true },
      event: { type: 'clock', detail: 'synced' },
    },
  ];

  it('covers every injection name', () => {
    expect(cases.map((c) => c.name).sort()).toEqual([...SIMULATION_INJECTIONS].sort());
  });

  it.each(cases)('$name changes condition and emits synchronously as specified', (c) => {
    const { meter, clock } = quietMeter();
    for (const name of c.before ?? []) meter.inject(name);
    const before = meter.condition();
    const { events, conditions } = record(meter);
    meter.inject(c.name);
    if (c.condition) {
      expect(conditions).toEqual([{ ...before, ...c.condition }]);
      expect(meter.condition()).toEqual({ ...before, ...c.condition });
    } else {
      expect(conditions).toEqual([]);
      expect(meter.condition()).toEqual(before);
    }
    if (c.event) {
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject(c.event);
      expect(events[0]?.ts).toEqual(clock.now());
    } else {
      expect(events).toEqual([]);
    }
  });

  it('fires onCondition exactly once per actual change and never for a no-op', () => {
    const { meter } = quietMeter();
    const { events, conditions } = record(meter);
    meter.inject('tamper');
    meter.inject('tamper');
    meter.inject('clock-synced'); // already synced
    meter.inject('fault-clear'); // already healthy
    meter.inject('interruption-end'); // no interruption
    meter.setRelay('close'); // already closed
    meter.inject('sag'); // momentary: event only
    expect(conditions).toHaveLength(1);
    expect(events.map((e) => e.type)).toEqual(['tamper', 'sag']);
    meter.inject('fault', { fault: 'display-fault' });
    meter.inject('fault', { fault: 'metrology-fault' });
    expect(conditions.map((c) => c.fault)).toEqual([null, 'display-fault', 'metrology-fault']);
  });

  it('counts sags and swells in their registers', () => {
    const { meter } = quietMeter();
    meter.inject('sag', { phase: 'L2', magnitude: 0.6, durationMs: 40 });
    meter.inject('sag');
    meter.inject('swell');
    expect(value(meter, OBIS.sagCount)).toBe(2);
    expect(value(meter, OBIS.swellCount)).toBe(1);
  });

  it('refuses a phase the meter does not have', () => {
    const { meter } = quietMeter({ phases: 1 });
    expect(() => meter.inject('sag', { phase: 'L3' })).toThrow(RangeError);
  });

  it('reports no voltage, current or power during an interruption, and its duration after', () => {
    const { meter, clock } = quietMeter();
    meter.start();
    const { events } = record(meter);
    meter.inject('interruption-start');
    const before = value(meter, OBIS.energyImport);
    clock.advance(10 * MINUTE);
    expect(value(meter, OBIS.voltageL1)).toBe(0);
    expect(value(meter, OBIS.currentL2)).toBe(0);
    expect(value(meter, OBIS.powerImport)).toBe(0);
    expect(value(meter, OBIS.energyImport)).toBe(before);
    meter.inject('interruption-end');
    expect(events[1]).toMatchObject({ detail: 'end', durationMs: 10 * MINUTE });
    expect(value(meter, OBIS.voltageL1)).toBeGreaterThan(220);
    meter.stop();
  });

  it('freezes readings and energy while the metrology board is lost', () => {
    const { meter, clock } = quietMeter();
    meter.start();
    clock.advance(MINUTE);
    meter.inject('sensor-failure');
    const frozen = meter.readRegisters();
    clock.advance(10 * MINUTE);
    expect(meter.readRegisters()).toEqual(frozen);
    meter.inject('sensor-restore');
    clock.advance(10 * MINUTE);
    expect(value(meter, OBIS.energyImport)).toBeGreaterThan(Number(frozen[0]?.value));
    meter.stop();
  });
});

describe('relay', () => {
  it('open stops power and freezes energy; close resumes them', () => {
    const { meter, clock } = quietMeter({ pvPeakKw: 0 });
    meter.start();
    clock.advance(MINUTE);
    expect(value(meter, OBIS.powerImport)).toBeGreaterThan(0);
    meter.setRelay('open');
    expect(meter.condition().relay).toBe('open');
    expect(value(meter, OBIS.relayState)).toBe(0);
    const frozenImport = value(meter, OBIS.energyImport);
    const frozenExport = value(meter, OBIS.energyExport);
    clock.advance(HOUR);
    expect(value(meter, OBIS.powerImport)).toBe(0);
    expect(value(meter, OBIS.powerExport)).toBe(0);
    expect(value(meter, OBIS.currentL1)).toBe(0);
    expect(value(meter, OBIS.voltageL1)).toBeGreaterThan(220);
    expect(value(meter, OBIS.energyImport)).toBe(frozenImport);
    expect(value(meter, OBIS.energyExport)).toBe(frozenExport);
    meter.setRelay('close');
    expect(value(meter, OBIS.relayState)).toBe(1);
    clock.advance(HOUR);
    expect(value(meter, OBIS.energyImport)).toBeGreaterThan(frozenImport);
    meter.stop();
  });

  it('refuses to close in lockout, and treats open in lockout as a no-op', () => {
    const { meter } = quietMeter();
    meter.inject('relay-lockout');
    const { events, conditions } = record(meter);
    expect(() => meter.setRelay('close')).toThrow(MeterControlError);
    try {
      meter.setRelay('close');
    } catch (error) {
      expect((error as MeterControlError).code).toBe('relay-lockout');
    }
    meter.setRelay('open');
    expect(meter.condition().relay).toBe('lockout');
    expect(value(meter, OBIS.relayState)).toBe(0);
    expect(events).toEqual([]);
    expect(conditions).toEqual([]);
  });

  it('refuses any relay operation on a meter without one', () => {
    const { meter } = quietMeter({ supportsRelay: false });
    expect(meter.supportsRelay).toBe(false);
    expect(() => meter.setRelay('open')).toThrow(
      expect.objectContaining({ name: 'MeterControlError', code: 'not-supported' }),
    );
    expect(() => meter.inject('relay-lockout')).toThrow(MeterControlError);
  });
});

describe('lifecycle', () => {
  it('start and stop are idempotent and stop leaves no timers', () => {
    vi.useFakeTimers({ now: MIDNIGHT });
    const meter = createSimulatedMeter({ meterId: 'mtr-2', seed: 3, eventRatePerHour: 3600 });
    meter.start();
    meter.start();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    vi.advanceTimersByTime(10 * MINUTE);
    meter.stop();
    meter.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ends a random interruption after a restart, even if stopped in the middle of it', () => {
    const clock = createManualClock(MIDNIGHT);
    const meter = createSimulatedMeter({ meterId: 'mtr-3', seed: 5, clock, eventRatePerHour: 600 });
    meter.start();
    while (!meter.condition().onBattery) clock.advance(1000);
    meter.stop();
    expect(clock.pending()).toBe(0);
    clock.advance(HOUR);
    expect(meter.condition().onBattery).toBe(true);
    meter.start();
    clock.advance(0);
    expect(meter.condition().onBattery).toBe(false);
    meter.stop();
    expect(clock.pending()).toBe(0);
  });

  it('counts no energy while stopped', () => {
    const { meter, clock } = quietMeter();
    const before = value(meter, OBIS.energyImport);
    clock.advance(HOUR);
    expect(value(meter, OBIS.energyImport)).toBe(before);
  });

  it('unsubscribes listeners and isolates a throwing one', () => {
    const errors: unknown[] = [];
    const { meter } = quietMeter({ onListenerError: (e) => errors.push(e) });
    const seen: string[] = [];
    meter.onEvent(() => {
      throw new Error('listener bug');
    });
    const off = meter.onEvent((e) => seen.push(e.type));
    meter.inject('sag');
    off();
    off();
    meter.inject('swell');
    expect(seen).toEqual(['sag']);
    expect(errors).toHaveLength(2);
  });

  it('returns a copy of the condition', () => {
    const { meter } = quietMeter();
    const c = meter.condition();
    c.relay = 'lockout';
    expect(meter.condition().relay).toBe('closed');
  });
});

describe('load limit (PROTOCOL §4 load-limit)', () => {
  it('keeps the import at or under the limit, and lifts it when cleared', () => {
    const clock = createManualClock(MIDNIGHT + 19 * HOUR); // evening peak
    const meter = createSimulatedMeter({
      meterId: 'm1',
      seed: 3,
      clock,
      eventRatePerHour: 0,
      pvPeakKw: 0,
    });
    meter.start();
    const unlimited: number[] = [];
    for (let i = 0; i < 30; i++) {
      clock.advance(MINUTE);
      unlimited.push(value(meter, OBIS.powerImport));
    }
    const peak = Math.max(...unlimited);
    const limit = Math.round((peak / 2) * 1000) / 1000;
    meter.setLoadLimit(limit);
    const energyBefore = value(meter, OBIS.energyImport);
    for (let i = 0; i < 30; i++) {
      clock.advance(MINUTE);
      expect(value(meter, OBIS.powerImport)).toBeLessThanOrEqual(limit);
    }
    // energy still grows, at most at the limit's rate (30 min at ≤ limit kW)
    const used = value(meter, OBIS.energyImport) - energyBefore;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(limit * 0.5 + 0.001);
    meter.setLoadLimit(null);
    const after: number[] = [];
    for (let i = 0; i < 30; i++) {
      clock.advance(MINUTE);
      after.push(value(meter, OBIS.powerImport));
    }
    expect(Math.max(...after)).toBeGreaterThan(limit);
    meter.stop();
  });
});
