import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  MAX_STANZA_BYTES,
  type PresenceStore,
  type StateChangeInput,
  truncateUtf8,
} from '../../presence-service/store/presence-store.js';

function change(overrides: Partial<StateChangeInput> = {}): StateChangeInput {
  return {
    meterId: 'm-1',
    prevState: null,
    state: 'available',
    reasonCode: null,
    reasonText: null,
    seq: 1,
    since: '2026-11-27T14:00:00Z',
    kind: 'revenue-meter',
    receivedAt: '2026-11-27T14:00:00.000Z',
    source: 'push',
    gap: 0,
    ...overrides,
  };
}

describe('presence store', () => {
  let db: Database;
  let store: PresenceStore;

  beforeEach(() => {
    db = openDatabase(':memory:');
    store = createPresenceStore({ db });
  });
  afterEach(() => db.close());

  it('records a change into history and current state in one go', () => {
    const recorded = store.record(
      change({ state: 'restricted', reasonCode: 'load-limit', reasonText: '5 kW', seq: 42 }),
    );
    expect(recorded.id).toBeGreaterThan(0);
    expect(recorded).toMatchObject({ meterId: 'm-1', state: 'restricted', seq: 42 });
    expect(store.current('m-1')).toEqual({
      meterId: 'm-1',
      state: 'restricted',
      reasonCode: 'load-limit',
      reasonText: '5 kW',
      seq: 42,
      since: '2026-11-27T14:00:00Z',
      kind: 'revenue-meter',
      source: 'push',
      receivedAt: '2026-11-27T14:00:00.000Z',
      lastSeenAt: '2026-11-27T14:00:00.000Z',
      historyId: recorded.id,
    });
    expect(store.history('m-1', { limit: 10 })).toEqual([recorded]);
    expect(store.current('m-2')).toBeUndefined();
  });

  it('keeps the last reported seq and kind across a server-reported drop', () => {
    store.record(change({ seq: 7 }));
    const drop = store.record(
      change({
        prevState: 'available',
        state: 'decoupled',
        reasonCode: 'connection-lost',
        seq: null,
        since: null,
        kind: null,
        source: 'server',
        receivedAt: '2026-11-27T14:05:00.000Z',
      }),
    );
    expect(drop.seq).toBeNull();
    expect(store.current('m-1')).toMatchObject({
      state: 'decoupled',
      reasonCode: 'connection-lost',
      seq: 7,
      kind: 'revenue-meter',
      since: null,
      source: 'server',
      historyId: drop.id,
    });
  });

  it('keeps the last seq each meter announced in the current state, across drops', () => {
    store.record(change({ meterId: 'm-2', seq: 9 }));
    store.record(change({ meterId: 'm-2', state: 'decoupled', seq: null, source: 'server' }));
    store.record(change({ meterId: 'm-3', state: 'decoupled', seq: null, source: 'server' }));
    expect(store.current('m-2')?.seq).toBe(9);
    expect(store.current('m-3')?.seq).toBeNull();
  });

  it('touch moves last-seen forward only, and only for meters seen before', () => {
    store.record(change());
    store.touch('m-1', '2026-11-27T14:10:00.000Z');
    store.touch('m-1', '2026-11-27T14:09:00.000Z');
    store.touch('unknown', '2026-11-27T14:10:00.000Z');
    expect(store.current('m-1')?.lastSeenAt).toBe('2026-11-27T14:10:00.000Z');
    expect(store.current('m-1')?.receivedAt).toBe('2026-11-27T14:00:00.000Z');
    expect(store.current('unknown')).toBeUndefined();
  });

  it('serves history by time range, ascending, bounded (the newest without since)', () => {
    for (let minute = 0; minute < 10; minute++) {
      const at = `2026-11-27T14:0${minute}:00.000Z`;
      store.record(change({ seq: minute + 1, receivedAt: at }));
      store.record(change({ meterId: 'm-2', seq: minute + 1, receivedAt: at }));
    }
    const seqs = (range: { since?: string; until?: string; limit: number }) =>
      store.history('m-1', range).map((c) => c.seq);
    expect(seqs({ limit: 100 })).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seqs({ limit: 3 })).toEqual([8, 9, 10]);
    expect(seqs({ since: '2026-11-27T14:07:00.000Z', limit: 100 })).toEqual([8, 9, 10]);
    expect(seqs({ since: '2026-11-27T14:02:00.000Z', limit: 2 })).toEqual([3, 4]);
    expect(seqs({ until: '2026-11-27T14:05:00.000Z', limit: 2 })).toEqual([5, 6]);
    expect(seqs({ until: '2026-11-27T14:01:00.000Z', limit: 100 })).toEqual([1, 2]);
    expect(
      seqs({ since: '2026-11-27T14:03:00.000Z', until: '2026-11-27T14:04:00.000Z', limit: 100 }),
    ).toEqual([4, 5]);
  });

  it('replays changes after an id across all meters', () => {
    const first = store.record(change());
    const second = store.record(change({ meterId: 'm-2' }));
    const third = store.record(change({ seq: 2, gap: 3 }));
    expect(store.changesAfter(0, 10).map((c) => c.id)).toEqual([first.id, second.id, third.id]);
    expect(store.changesAfter(first.id, 1)).toEqual([second]);
    expect(store.changesAfter(third.id, 10)).toEqual([]);
    expect(store.changesAfter(first.id, 10)[1]).toMatchObject({ gap: 3, kind: 'revenue-meter' });
  });

  it('allCurrent maps every meter seen', () => {
    store.record(change());
    store.record(change({ meterId: 'm-2', state: 'active', reasonCode: 'dr-event' }));
    const all = store.allCurrent();
    expect([...all.keys()].sort()).toEqual(['m-1', 'm-2']);
    expect(all.get('m-2')?.state).toBe('active');
  });

  it('records protocol errors, newest first, with the stanza truncated to 4 KB', () => {
    store.recordProtocolError({
      meterId: 'm-1',
      receivedAt: '2026-11-27T14:00:00.000Z',
      error: 'presence without <meter>',
      stanza: `<presence>${'é'.repeat(5000)}</presence>`,
    });
    store.recordProtocolError({
      meterId: 'm-1',
      receivedAt: '2026-11-27T14:01:00.000Z',
      error: 'second',
      stanza: '<presence/>',
    });
    const errors = store.protocolErrors('m-1', 10);
    expect(errors.map((e) => e.error)).toEqual(['second', 'presence without <meter>']);
    expect(Buffer.byteLength(errors[1]?.stanza ?? '')).toBeLessThanOrEqual(MAX_STANZA_BYTES);
    expect(errors[1]?.stanza.endsWith('\uFFFD')).toBe(false);
    expect(store.protocolErrors('m-1', 1)).toHaveLength(1);
    expect(store.protocolErrors('m-2', 10)).toEqual([]);
  });

  it('counts registered meters per state; never seen counts as decoupled', () => {
    const registry = createMeterRegistry({ db });
    registry.addMany(['m-1', 'm-2', 'm-3', 'm-4'].map((id) => ({ id, domain: 'grid.example' })));
    store.record(change({ meterId: 'm-1' }));
    store.record(change({ meterId: 'm-2', state: 'unavailable' }));
    store.record(change({ meterId: 'm-3', state: 'decoupled' }));
    store.record(change({ meterId: 'not-registered', state: 'active' }));
    expect(store.counts()).toEqual({
      available: 1,
      active: 0,
      restricted: 0,
      unavailable: 1,
      decoupled: 2,
    });
  });

  it('rejects states outside PROTOCOL §1 at the database', () => {
    expect(() => store.record(change({ state: 'sleeping' as 'available' }))).toThrow(/CHECK/);
    expect(store.current('m-1')).toBeUndefined();
  });
});

describe('truncateUtf8', () => {
  it('cuts on a character boundary', () => {
    expect(truncateUtf8('abc', 10)).toBe('abc');
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('a€b', 4)).toBe('a€');
  });
});

describe('presence store on a file database', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Speed is measured by the benchmarks, not asserted here; this checks a realistic volume.
  it('keeps 10,000 changes of 1,000 meters in order with the right current state', () => {
    dir = mkdtempSync(join(tmpdir(), 'gp-rate-'));
    const db = openDatabase(join(dir, 'presence.db'));
    const store = createPresenceStore({ db });
    const count = 10_000;
    for (let i = 0; i < count; i++) {
      store.record(
        change({
          meterId: `m-${i % 1000}`,
          seq: i + 1,
          state: i % 2 === 0 ? 'available' : 'restricted',
          receivedAt: new Date(Date.UTC(2026, 10, 27) + i).toISOString(),
        }),
      );
    }
    const all = store.changesAfter(0, count + 1);
    expect(all).toHaveLength(count);
    expect(all.map((c) => c.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // meter m-999 last changed at i = 9,999 (odd: restricted, seq 10,000)
    expect(store.current('m-999')).toMatchObject({ state: 'restricted', seq: count });
    expect(store.current('m-0')).toMatchObject({ state: 'available', seq: 9_001 });
    db.close();
  });
});
