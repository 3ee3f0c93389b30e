import { beforeEach, describe, expect, it } from 'vitest';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import {
  createPresenceRecorder,
  type PresenceRecorder,
} from '../../presence-service/presence/presence-recorder.js';
import { openDatabase } from '../../presence-service/store/database.js';
import {
  createPresenceStore,
  type PresenceStore,
  type RecordedChange,
} from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';

const at = (s: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, s));
const status = (
  seq: number,
  state: MeterStatus['state'] = 'available',
  code?: string,
): MeterStatus => ({
  state,
  seq,
  since: '2026-11-27T12:00:00Z',
  kind: 'revenue-meter',
  ...(code ? { reason: { code } } : {}),
});

let store: PresenceStore;
let recorder: PresenceRecorder;
let published: RecordedChange[];

beforeEach(() => {
  store = createPresenceStore({ db: openDatabase(':memory:') });
  const bus = createChangeBus();
  published = [];
  bus.subscribe((c) => published.push(c));
  recorder = createPresenceRecorder({ store, bus, logger: silentLogger() });
});

describe('presence recorder (PROTOCOL §1)', () => {
  it('records the first status and publishes it', () => {
    const change = recorder.status('m1', status(1), 'push', at(0));
    expect(change).toMatchObject({
      prevState: null,
      state: 'available',
      seq: 1,
      gap: 0,
      source: 'push',
    });
    expect(published).toHaveLength(1);
  });

  it('counts a repeat of the current status only as a sign of life', () => {
    recorder.status('m1', status(1), 'push', at(0));
    expect(recorder.status('m1', status(1), 'query', at(5))).toBeNull();
    expect(store.current('m1')?.lastSeenAt).toBe(at(5).toISOString());
    expect(published).toHaveLength(1);
  });

  it('records a reconnection (same state, next seq) and a change of reason', () => {
    recorder.status('m1', status(1, 'restricted', 'tamper-suspected'), 'push', at(0));
    expect(
      recorder.status('m1', status(2, 'restricted', 'tamper-suspected'), 'push', at(1)),
    ).not.toBeNull();
    expect(
      recorder.status('m1', status(3, 'restricted', 'relay-open'), 'push', at(2)),
    ).toMatchObject({
      prevState: 'restricted',
      reasonCode: 'relay-open',
    });
  });

  it('records the gap when seq jumps, without inventing states', () => {
    recorder.status('m1', status(4), 'push', at(0));
    const change = recorder.status('m1', status(7, 'unavailable', 'fault'), 'query', at(1));
    expect(change).toMatchObject({ gap: 2, seq: 7, source: 'query' });
    expect(store.history('m1', { limit: 10 })).toHaveLength(2);
  });

  it('ignores a query answer overtaken by a push, but accepts a push that restarts the count', () => {
    recorder.status('m1', status(10, 'restricted', 'relay-open'), 'push', at(0));
    expect(recorder.status('m1', status(9), 'query', at(1))).toBeNull();
    expect(store.current('m1')?.state).toBe('restricted');
    expect(recorder.status('m1', status(1), 'push', at(2))).toMatchObject({ seq: 1, gap: 0 });
  });

  it('measures gaps across a server-reported drop from the last announced seq', () => {
    recorder.status('m1', status(5), 'push', at(0));
    expect(recorder.gone('m1', 'connection-lost', 'server', at(1))).toMatchObject({
      state: 'decoupled',
      seq: null,
      source: 'server',
    });
    expect(recorder.status('m1', status(6), 'push', at(2))).toMatchObject({
      gap: 0,
      prevState: 'decoupled',
    });
  });

  it('records gone once, and not when the meter was heard from after the query was sent', () => {
    recorder.status('m1', status(1), 'push', at(0));
    // asked at 1 s, but a presence arrived at 2 s before the "offline" answer at 3 s
    recorder.status('m1', status(1), 'push', at(2));
    expect(recorder.gone('m1', 'connection-lost', 'query', at(3), at(1))).toBeNull();
    expect(recorder.gone('m1', 'connection-lost', 'server', at(4))).not.toBeNull();
    expect(recorder.gone('m1', 'connection-lost', 'server', at(5))).toBeNull();
  });

  it('does not let a missing XMPP session decouple a meter known by e-mail only', () => {
    recorder.status('m1', status(1), 'email', at(0));
    expect(recorder.gone('m1', 'connection-lost', 'query', at(1), at(1))).toBeNull();
    expect(recorder.gone('m1', 'connection-lost', 'ping', at(2), at(2))).toBeNull();
    // its unanswered e-mail poll does
    expect(recorder.gone('m1', 'no-response', 'email', at(9), at(3))).toMatchObject({
      state: 'decoupled',
      reasonCode: 'no-response',
      source: 'email',
    });
  });

  it('keeps the last sign of life in memory and writes it at most every few seconds', () => {
    recorder.status('m1', status(1), 'push', at(0));
    recorder.seen('m1', at(2));
    expect(recorder.lastSignOfLife('m1')).toBe(at(2).getTime());
    expect(store.current('m1')?.lastSeenAt).toBe(at(0).toISOString());
    recorder.seen('m1', at(6));
    expect(store.current('m1')?.lastSeenAt).toBe(at(6).toISOString());
  });

  it('keeps protocol errors for the meter', () => {
    recorder.protocolError('m1', 'meter/@seq: bad', '<presence/>', at(0));
    expect(store.protocolErrors('m1', 5)).toMatchObject([{ error: 'meter/@seq: bad' }]);
  });
});
