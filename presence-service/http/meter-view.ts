import type { MeterState } from '../../src/protocol/index.js';
import type { MeterWithState } from '../store/meter-registry.js';
import type { ChangeSource, RecordedChange } from '../store/presence-store.js';

// The JSON the API (and `meters list --json`) shows for a meter and for a state change. Kept in
// one place so the list, the detail, the history and the event stream agree.

export interface ReasonView {
  code: string;
  text: string | null;
}

export interface MeterView {
  id: string;
  jid: string;
  kind: string | null;
  groups: string[];
  state: MeterState;
  reason: ReasonView | null;
  seq: number | null;
  since: string | null;
  receivedAt: string | null;
  lastSeenAt: string | null;
}

export interface ChangeView {
  id: number;
  meterId: string;
  prevState: MeterState | null;
  state: MeterState;
  reason: ReasonView | null;
  seq: number | null;
  since: string | null;
  kind: string | null;
  receivedAt: string;
  source: ChangeSource;
  gap: number;
}

export function meterView(meter: MeterWithState): MeterView {
  const current = meter.current;
  return {
    id: meter.id,
    jid: meter.jid,
    // What the operator registered wins; otherwise what the meter says it is (PROTOCOL §1 kind).
    kind: meter.kind ?? current?.kind ?? null,
    groups: meter.groups,
    // PROTOCOL §1: a meter never seen is not coupled to the architecture.
    state: current?.state ?? 'decoupled',
    reason: reasonView(current?.reasonCode ?? null, current?.reasonText ?? null),
    seq: current?.seq ?? null,
    since: current?.since ?? null,
    receivedAt: current?.receivedAt ?? null,
    lastSeenAt: current?.lastSeenAt ?? null,
  };
}

export function changeView(change: RecordedChange): ChangeView {
  return {
    id: change.id,
    meterId: change.meterId,
    prevState: change.prevState,
    state: change.state,
    reason: reasonView(change.reasonCode, change.reasonText),
    seq: change.seq,
    since: change.since,
    kind: change.kind,
    receivedAt: change.receivedAt,
    source: change.source,
    gap: change.gap,
  };
}

function reasonView(code: string | null, text: string | null): ReasonView | null {
  return code === null ? null : { code, text };
}
