// The meter as the agent sees it: readings, a condition to derive presence from, events, and
// the one control the agent may operate. Drivers (simulated, SunSpec over Modbus in modbus/;
// DLMS later) implement MeterModel; nothing here knows about XMPP. Presence mapping: PROTOCOL
// §1; data: PROTOCOL §6.

export type Phase = 'L1' | 'L2' | 'L3';

// PROTOCOL §6 event types.
export type MeterEventType =
  | 'sag'
  | 'swell'
  | 'interruption'
  | 'thd-high'
  | 'tamper'
  | 'relay'
  | 'clock';

export interface MeterEvent {
  type: MeterEventType;
  /** From the injected clock, so tests and replays see the same timestamps. */
  ts: Date;
  phase?: Phase;
  /** Per-unit of nominal voltage for sag/swell (e.g. 0.82); percent for thd-high. */
  magnitude?: number;
  durationMs?: number;
  /**
   * relay: 'open' | 'close' | 'lockout'; tamper: 'opened' | 'cleared';
   * clock: 'lost' | 'synced'; interruption: 'start' | 'end'.
   */
  detail?: string;
}

/** PROTOCOL §6: OBIS id (IEC 62056-61), decimal string, SI unit ('' for counts and ids). */
export interface RegisterValue {
  id: string;
  value: string;
  unit: string;
}

export type RelayState = 'closed' | 'open' | 'lockout';

/** What the agent derives its presence state from (PROTOCOL §1 reasons). */
export interface MeterCondition {
  relay: RelayState;
  tamperSuspected: boolean;
  /** Supply interrupted; the meter runs on its backup supply. */
  onBattery: boolean;
  clockSynced: boolean;
  /** e.g. 'metrology-fault'; null when healthy. */
  fault: string | null;
  /** e.g. lost link to the metrology board, or the Modbus link of a later driver. */
  sensorFailure: boolean;
}

export interface MeterModel {
  /** PROTOCOL §1 `kind`: 'revenue-meter', 'relay', 'gateway', … */
  readonly kind: string;
  readonly supportsRelay: boolean;
  /** Begins the driver's own timers (sampling, random events). Idempotent. */
  start(): void;
  /** Clears every timer the driver owns (STYLE §8). Idempotent. */
  stop(): void;
  /** Current values; unknown ids are ignored; empty or undefined means all. */
  readRegisters(ids?: string[]): RegisterValue[];
  /** A copy; changing it changes nothing. */
  condition(): MeterCondition;
  /** Throws MeterControlError ('relay-lockout' | 'not-supported'). */
  setRelay(action: 'open' | 'close'): void;
  readonly supportsLoadLimit: boolean;
  /** Caps the import at `limitKw` (null: no limit). Throws MeterControlError('not-supported'). */
  setLoadLimit(limitKw: number | null): void;
  /** Returns the unsubscribe function. */
  onEvent(listener: (event: MeterEvent) => void): () => void;
  /** Fired synchronously, once, whenever condition() changes. Returns the unsubscribe function. */
  onCondition(listener: (condition: MeterCondition) => void): () => void;
}

export const HEALTHY_CONDITION: Readonly<MeterCondition> = Object.freeze({
  relay: 'closed',
  tamperSuspected: false,
  onBattery: false,
  clockSynced: true,
  fault: null,
  sensorFailure: false,
});
