import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import {
  createMeterRegistry,
  type MeterRegistry,
} from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  type PresenceStore,
  type StateChangeInput,
} from '../../presence-service/store/presence-store.js';
import { ERROR_CODES } from '../../src/errors.js';

const DOMAIN = 'grid.example';

function change(meterId: string, state: StateChangeInput['state']): StateChangeInput {
  return {
    meterId,
    prevState: null,
    state,
    reasonCode: null,
    reasonText: null,
    seq: 1,
    since: '2026-11-27T14:00:00Z',
    kind: 'revenue-meter',
    receivedAt: '2026-11-27T14:00:00.000Z',
    source: 'push',
    gap: 0,
  };
}

describe('meter registry', () => {
  let db: Database;
  let registry: MeterRegistry;
  let store: PresenceStore;

  beforeEach(() => {
    db = openDatabase(':memory:');
    registry = createMeterRegistry({ db, now: () => new Date('2026-11-27T10:00:00.000Z') });
    store = createPresenceStore({ db });
  });
  afterEach(() => db.close());

  it('adds a meter with its bare JID and groups', () => {
    const record = registry.add({
      id: 'mtr-000123',
      domain: DOMAIN,
      kind: 'revenue-meter',
      email: 'ops@grid.example',
      groups: ['feeder-12', 'wave-1', 'feeder-12'],
    });
    expect(record).toEqual({
      id: 'mtr-000123',
      jid: 'mtr-000123@grid.example',
      kind: 'revenue-meter',
      email: 'ops@grid.example',
      groups: ['feeder-12', 'wave-1'],
      createdAt: '2026-11-27T10:00:00.000Z',
      subscribedAt: null,
    });
    expect(registry.get('mtr-000123')).toEqual(record);
    expect(registry.get('nope')).toBeUndefined();
    expect(registry.count()).toBe(1);
  });

  it('rejects a duplicate id with METER_EXISTS and bad input naming the field', () => {
    registry.add({ id: 'm-1', domain: DOMAIN });
    expect(() => registry.add({ id: 'm-1', domain: DOMAIN })).toThrow(
      expect.objectContaining({ code: ERROR_CODES.METER_EXISTS }),
    );
    expect(() => registry.add({ id: 'Bad_Id', domain: DOMAIN })).toThrow(/id:/);
    expect(() => registry.add({ id: 'm-2', domain: DOMAIN, groups: ['Feeder 1'] })).toThrow(
      /groups\.0/,
    );
    expect(() => registry.add({ id: 'm-2', domain: DOMAIN, email: 'not-mail' })).toThrow(/email/);
    expect(registry.count()).toBe(1);
  });

  it('adds thousands in one transaction and skips existing ids', () => {
    registry.add({ id: 'm-00005', domain: DOMAIN });
    const inputs = Array.from({ length: 5000 }, (_, i) => ({
      id: `m-${String(i).padStart(5, '0')}`,
      domain: DOMAIN,
      groups: [`wave-${i % 3}`],
    }));
    const started = performance.now();
    const result = registry.addMany(inputs);
    const elapsedMs = performance.now() - started;
    expect(result).toEqual({ added: 4999, skipped: ['m-00005'] });
    expect(registry.count()).toBe(5000);
    expect(elapsedMs).toBeLessThan(2000);
  });

  it('addMany stores nothing when one input is invalid', () => {
    expect(() =>
      registry.addMany([
        { id: 'm-1', domain: DOMAIN },
        { id: 'BAD', domain: DOMAIN },
      ]),
    ).toThrow(/BAD/);
    expect(registry.count()).toBe(0);
  });

  it('removes a meter and its current state but keeps its history', () => {
    registry.add({ id: 'm-1', domain: DOMAIN, groups: ['g-1'] });
    store.record(change('m-1', 'available'));
    expect(registry.remove('m-1')).toBe(true);
    expect(registry.remove('m-1')).toBe(false);
    expect(registry.get('m-1')).toBeUndefined();
    expect(store.current('m-1')).toBeUndefined();
    expect(store.history('m-1', { limit: 10 })).toHaveLength(1);
    expect(db.prepare('SELECT count(*) FROM meter_groups').pluck().get()).toBe(0);
  });

  it('tracks subscriptions', () => {
    registry.addMany([
      { id: 'm-1', domain: DOMAIN },
      { id: 'm-2', domain: DOMAIN },
    ]);
    expect(registry.unsubscribed()).toEqual(['m-1', 'm-2']);
    registry.markSubscribed('m-1', '2026-11-27T11:00:00.000Z');
    registry.markSubscribed('gone', '2026-11-27T11:00:00.000Z');
    expect(registry.unsubscribed()).toEqual(['m-2']);
    expect(registry.get('m-1')?.subscribedAt).toBe('2026-11-27T11:00:00.000Z');
    expect(registry.ids()).toEqual(['m-1', 'm-2']);
  });

  it('replaces groups', () => {
    registry.add({ id: 'm-1', domain: DOMAIN, groups: ['a'] });
    registry.setGroups('m-1', ['c', 'b']);
    expect(registry.get('m-1')?.groups).toEqual(['b', 'c']);
    expect(() => registry.setGroups('m-1', ['B A'])).toThrow(/groups/);
    expect(() => registry.setGroups('nope', ['a'])).toThrow(
      expect.objectContaining({ code: ERROR_CODES.METER_UNKNOWN }),
    );
  });

  describe('list', () => {
    beforeEach(() => {
      registry.addMany([
        { id: 'm-1', domain: DOMAIN, kind: 'relay', groups: ['feeder-1'] },
        { id: 'm-2', domain: DOMAIN, groups: ['feeder-1', 'feeder-2'] },
        { id: 'm-3', domain: DOMAIN, email: 'Field@Grid.example' },
        { id: 'x-4', domain: DOMAIN },
      ]);
      store.record(change('m-1', 'available'));
      store.record(change('m-2', 'restricted'));
      store.record(change('x-4', 'decoupled'));
    });

    it('joins the current state, in id order, with paging', () => {
      const all = registry.list({ limit: 100, offset: 0 });
      expect(all.total).toBe(4);
      expect(all.meters.map((m) => m.id)).toEqual(['m-1', 'm-2', 'm-3', 'x-4']);
      expect(all.meters[0]?.current?.state).toBe('available');
      expect(all.meters[0]?.groups).toEqual(['feeder-1']);
      expect(all.meters[2]?.current).toBeNull();
      const page = registry.list({ limit: 2, offset: 1 });
      expect(page.total).toBe(4);
      expect(page.meters.map((m) => m.id)).toEqual(['m-2', 'm-3']);
    });

    it('filters by state; decoupled includes meters never seen', () => {
      const ids = (state: 'available' | 'restricted' | 'decoupled' | 'active') =>
        registry.list({ state, limit: 100, offset: 0 }).meters.map((m) => m.id);
      expect(ids('available')).toEqual(['m-1']);
      expect(ids('restricted')).toEqual(['m-2']);
      expect(ids('decoupled')).toEqual(['m-3', 'x-4']);
      expect(ids('active')).toEqual([]);
    });

    it('filters by group and by text, combined', () => {
      const list = (filter: { group?: string; q?: string; state?: 'available' }) =>
        registry.list({ ...filter, limit: 100, offset: 0 });
      expect(list({ group: 'feeder-1' }).meters.map((m) => m.id)).toEqual(['m-1', 'm-2']);
      expect(list({ group: 'feeder-1', state: 'available' }).total).toBe(1);
      expect(list({ q: 'X-' }).meters.map((m) => m.id)).toEqual(['x-4']);
      expect(list({ q: 'field@' }).meters.map((m) => m.id)).toEqual(['m-3']);
      expect(list({ q: 'relay' }).meters.map((m) => m.id)).toEqual(['m-1']);
      expect(list({ q: '%' }).total).toBe(0);
      expect(list({ q: 'x-4@grid' }).meters.map((m) => m.id)).toEqual(['x-4']);
    });
  });
});
