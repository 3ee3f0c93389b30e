import { describe, expect, it } from 'vitest';
import { HEALTHY_CONDITION, type MeterCondition } from '../../meter-agent/meter/model.js';
import { type AgentModes, deriveState, NO_MODES } from '../../meter-agent/presence/derive-state.js';

const healthy: MeterCondition = { ...HEALTHY_CONDITION };

describe('deriveState (PROTOCOL §1)', () => {
  it('is available when nothing is wrong', () => {
    expect(deriveState(healthy, NO_MODES)).toEqual({ state: 'available' });
  });

  it.each([
    [{ relay: 'open' }, 'restricted', 'relay-open'],
    [{ onBattery: true }, 'restricted', 'on-battery'],
    [{ tamperSuspected: true }, 'restricted', 'tamper-suspected'],
    [{ clockSynced: false }, 'restricted', 'clock-unsynced'],
    [{ relay: 'lockout' }, 'unavailable', 'relay-lockout'],
    [{ fault: 'metrology-fault' }, 'unavailable', 'fault'],
    [{ sensorFailure: true }, 'unavailable', 'sensor-failure'],
  ] as const)('maps %o to %s/%s', (change, state, code) => {
    const derived = deriveState({ ...healthy, ...change }, NO_MODES);
    expect(derived.state).toBe(state);
    expect(derived.reason?.code).toBe(code);
  });

  it('lets the most limiting cause win: unavailable > active > restricted', () => {
    const busy: AgentModes = { ...NO_MODES, activity: { code: 'dr-event', text: 'DR event' } };
    expect(deriveState({ ...healthy, relay: 'open' }, busy).state).toBe('active');
    expect(deriveState({ ...healthy, fault: 'x' }, busy).state).toBe('unavailable');
    const maintenance: AgentModes = { ...busy, maintenance: { note: 'swap CT' } };
    expect(deriveState(healthy, maintenance)).toEqual({
      state: 'unavailable',
      reason: { code: 'maintenance', text: 'swap CT' },
    });
  });

  it('describes a load limit with its end time', () => {
    const limited: AgentModes = {
      ...NO_MODES,
      loadLimit: { limitKw: 5, until: new Date('2026-11-27T14:30:00Z') },
    };
    expect(deriveState(healthy, limited)).toEqual({
      state: 'restricted',
      reason: { code: 'load-limit', text: 'load limit 5 kW until 14:30Z' },
    });
  });
});
