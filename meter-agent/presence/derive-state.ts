import type { MeterReason } from '../../src/protocol/meter-status.js';
import type { MeterState } from '../../src/protocol/states.js';
import type { MeterCondition } from '../meter/model.js';

// PROTOCOL §1: the agent derives its state from the meter's condition and from what the agent
// itself is doing. When several causes hold, the one that limits the meter most wins:
// unavailable (cannot perform its function) > active (carrying out a function now) >
// restricted (some functions limited) > available.

/** What the agent is doing besides the meter's own condition (set by commands in later work). */
export interface AgentModes {
  maintenance: { note: string } | null;
  /** A power-management function in progress: `command`, `dr-event`, `download`. */
  activity: { code: string; text: string } | null;
  loadLimit: { limitKw: number; until: Date } | null;
}

export const NO_MODES: AgentModes = { maintenance: null, activity: null, loadLimit: null };

export interface DerivedState {
  state: Exclude<MeterState, 'decoupled'>;
  reason?: MeterReason;
}

export function deriveState(condition: MeterCondition, modes: AgentModes): DerivedState {
  if (modes.maintenance) {
    return unavailable('maintenance', modes.maintenance.note || 'maintenance mode');
  }
  if (condition.relay === 'lockout')
    return unavailable('relay-lockout', 'service relay locked out');
  if (condition.fault) return unavailable('fault', condition.fault);
  if (condition.sensorFailure) return unavailable('sensor-failure', 'metrology link lost');

  if (modes.activity) {
    return { state: 'active', reason: { code: modes.activity.code, text: modes.activity.text } };
  }

  if (modes.loadLimit) {
    const until = modes.loadLimit.until.toISOString().slice(11, 16);
    return restricted('load-limit', `load limit ${modes.loadLimit.limitKw} kW until ${until}Z`);
  }
  if (condition.relay === 'open') return restricted('relay-open', 'service relay open');
  if (condition.onBattery) return restricted('on-battery', 'supply interrupted, on backup power');
  if (condition.tamperSuspected) return restricted('tamper-suspected', 'tamper switch opened');
  if (!condition.clockSynced) return restricted('clock-unsynced', 'clock not synchronised');

  return { state: 'available' };
}

function unavailable(code: string, text: string): DerivedState {
  return { state: 'unavailable', reason: { code, text } };
}

function restricted(code: string, text: string): DerivedState {
  return { state: 'restricted', reason: { code, text } };
}
