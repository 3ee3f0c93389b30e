import type { Logger } from '../../src/log.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import type { MeterState } from '../../src/protocol/states.js';
import type {
  ChangeSource,
  CurrentState,
  PresenceStore,
  RecordedChange,
} from '../store/presence-store.js';
import type { ChangeBus } from './change-bus.js';

// Turns what the service hears about a meter into recorded state changes (PROTOCOL §1):
// - a real change (state or reason differs, or a newer seq after a gap) is recorded with the
//   previous state, the meter's seq and since, the receive time, the source and the gap;
// - a repeat of the current status only counts as a sign of life;
// - a status older than what we know (a query answer overtaken by a push) is ignored;
// - a seq that went backwards in a push means the meter restarted its count: recorded, warned.
//
// It also keeps every meter's last sign of life in memory (silent-death detection reads it every
// second, docs/liveness.md). The database's last_seen_at follows at most every TOUCH_EVERY_MS
// per meter: heartbeats from 10,000 meters would otherwise be 2,000 writes a second.

/** How stale the stored last_seen_at may get while the meter is heard from. */
export const TOUCH_EVERY_MS = 5_000;

export interface PresenceRecorder {
  /** A valid <meter/> from a presence (`push`) or a status query answer (`query`). */
  status(
    meterId: string,
    status: MeterStatus,
    source: ChangeSource,
    receivedAt: Date,
  ): RecordedChange | null;
  /**
   * The meter is gone: the server reported it (`server`), a query found it offline (`query`),
   * or it said goodbye with a broken extension (`push`). `askedAt`: when a query was sent; a
   * sign of life heard since then makes its answer stale.
   */
  gone(
    meterId: string,
    reasonCode: string,
    source: ChangeSource,
    receivedAt: Date,
    askedAt?: Date,
  ): RecordedChange | null;
  /** A presence whose extension was missing or malformed (PROTOCOL §1): an error, never a crash. */
  protocolError(meterId: string, error: string, stanza: string, receivedAt: Date): void;
  /** Any sign of life that carries no state. */
  seen(meterId: string, at: Date): void;
  /** The last sign of life heard (ms since the epoch), from memory; undefined if none yet. */
  lastSignOfLife(meterId: string): number | undefined;
  /** Called on every sign of life, after it is recorded (liveness follows recoveries with it). */
  onSignOfLife(listener: (meterId: string, at: Date) => void): void;
}

export function createPresenceRecorder(deps: {
  store: PresenceStore;
  bus: ChangeBus;
  logger: Logger;
}): PresenceRecorder {
  const { store, bus, logger } = deps;
  const lastSeen = new Map<string, number>();
  const lastTouched = new Map<string, number>();
  const listeners: Array<(meterId: string, at: Date) => void> = [];

  const alive = (meterId: string, at: Date, written: boolean) => {
    const ms = at.getTime();
    if ((lastSeen.get(meterId) ?? 0) < ms) lastSeen.set(meterId, ms);
    if (written) {
      lastTouched.set(meterId, ms);
    } else if (ms - (lastTouched.get(meterId) ?? 0) >= TOUCH_EVERY_MS) {
      lastTouched.set(meterId, ms);
      store.touch(meterId, at.toISOString());
    }
    for (const listener of listeners) listener(meterId, at);
  };

  const record = (
    meterId: string,
    current: CurrentState | undefined,
    next: { state: MeterState; reasonCode: string | null; reasonText: string | null },
    meta: { seq: number | null; since: string | null; kind: string | null; gap: number },
    source: ChangeSource,
    receivedAt: Date,
  ): RecordedChange => {
    const change = store.record({
      meterId,
      prevState: current?.state ?? null,
      state: next.state,
      reasonCode: next.reasonCode,
      reasonText: next.reasonText,
      seq: meta.seq,
      since: meta.since,
      kind: meta.kind ?? current?.kind ?? null,
      receivedAt: receivedAt.toISOString(),
      source,
      gap: meta.gap,
    });
    bus.publish(change);
    return change;
  };

  return {
    status(meterId, status, source, receivedAt) {
      const current = store.current(meterId);
      // The store keeps the meter's last seq across server-reported drops (which carry none).
      const known = current?.seq ?? undefined;
      const reasonCode = status.reason?.code ?? null;
      const reasonText = status.reason?.text ?? null;
      const sameAsCurrent =
        current !== undefined &&
        current.state === status.state &&
        current.reasonCode === reasonCode &&
        current.reasonText === reasonText;

      if (known !== undefined && status.seq < known) {
        if (source !== 'push') {
          alive(meterId, receivedAt, false);
          return null; // an answer overtaken by newer news
        }
        logger.warn({ meterId, seq: status.seq, known }, 'meter seq went backwards; meter reset?');
      } else if (known === status.seq && sameAsCurrent) {
        alive(meterId, receivedAt, false);
        return null; // a repeat (heartbeat, reconnect, query) of what we know
      }
      const gap = known !== undefined && status.seq > known + 1 ? status.seq - known - 1 : 0;
      if (gap > 0) logger.info({ meterId, gap, seq: status.seq }, 'missed state changes (seq gap)');
      const change = record(
        meterId,
        current,
        { state: status.state, reasonCode, reasonText },
        { seq: status.seq, since: status.since, kind: status.kind, gap },
        source,
        receivedAt,
      );
      alive(meterId, receivedAt, true);
      return change;
    },

    gone(meterId, reasonCode, source, receivedAt, askedAt) {
      const current = store.current(meterId);
      const heardAt = lastSeen.get(meterId) ?? (current ? Date.parse(current.lastSeenAt) : 0);
      if (askedAt && current && heardAt >= askedAt.getTime()) {
        return null; // the meter was heard from after we asked: the answer is stale
      }
      // Already gone: news of it again is not a sign of life, and not a change.
      if (current?.state === 'decoupled') return null;
      // A meter known by e-mail only has no XMPP session by design: a query or ping finding
      // none says nothing about it (its unanswered e-mail polls do, with source 'email').
      if (current?.source === 'email' && (source === 'query' || source === 'ping')) return null;
      return record(
        meterId,
        current,
        { state: 'decoupled', reasonCode, reasonText: null },
        { seq: null, since: null, kind: null, gap: 0 },
        source,
        receivedAt,
      );
    },

    protocolError(meterId, error, stanza, receivedAt) {
      logger.warn({ meterId, error }, 'protocol error from meter');
      store.recordProtocolError({ meterId, receivedAt: receivedAt.toISOString(), error, stanza });
    },

    seen(meterId, at) {
      alive(meterId, at, false);
    },

    lastSignOfLife(meterId) {
      return lastSeen.get(meterId);
    },

    onSignOfLife(listener) {
      listeners.push(listener);
    },
  };
}
