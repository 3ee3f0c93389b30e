import type { MeterReason, MeterStatus } from '../../src/protocol/meter-status.js';
import type { MeterState } from '../../src/protocol/states.js';
import type { SeqStore } from './seq-store.js';

// Holds the meter's announced status: a new seq and `since` only when the state or its reason
// really changes (PROTOCOL §1), so re-evaluating an unchanged condition announces nothing.

export interface PresenceTracker {
  readonly status: MeterStatus;
  /** Applies a state; returns the new status if it changed, else null. */
  apply(state: MeterState, reason?: MeterReason): MeterStatus | null;
  /**
   * The same state begins again (a new XMPP session after being decoupled): a new seq and
   * `since`, so the service can tell a reconnection from a repeat.
   */
  renew(): MeterStatus;
}

export function createPresenceTracker(deps: {
  seqStore: SeqStore;
  kind: string;
  now: () => Date;
  initial: { state: MeterState; reason?: MeterReason };
}): PresenceTracker {
  const { seqStore, kind, now } = deps;
  const make = (state: MeterState, reason?: MeterReason): MeterStatus => ({
    state,
    seq: seqStore.next(),
    since: toRfc3339(now()),
    kind,
    ...(reason ? { reason } : {}),
  });
  let status = make(deps.initial.state, deps.initial.reason);
  return {
    get status() {
      return status;
    },
    apply(state, reason) {
      if (state === status.state && sameReason(reason, status.reason)) return null;
      status = make(state, reason);
      return status;
    },
    renew() {
      status = make(status.state, status.reason);
      return status;
    },
  };
}

function sameReason(a: MeterReason | undefined, b: MeterReason | undefined): boolean {
  return a?.code === b?.code && a?.text === b?.text;
}

/** RFC 3339 in UTC with second precision, as PROTOCOL §1 shows it. */
export function toRfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
