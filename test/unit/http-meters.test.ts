import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
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
import { silentLogger } from '../../src/log.js';
import { createTestAuth } from './helpers/auth-fixture.js';

const DOMAIN = 'grid.example';

function change(overrides: Partial<StateChangeInput>): StateChangeInput {
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

describe('meters API', () => {
  let db: Database;
  let registry: MeterRegistry;
  let store: PresenceStore;
  let app: FastifyInstance;
  let as: ReturnType<typeof createTestAuth>['as'];

  beforeEach(async () => {
    db = openDatabase(':memory:');
    registry = createMeterRegistry({ db });
    store = createPresenceStore({ db });
    const test = createTestAuth(db);
    as = test.as;
    app = buildHttpApi({
      auth: test.auth,
      registry,
      store,
      bus: createChangeBus(),
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
    });
    await app.ready();
    registry.addMany([
      { id: 'm-1', domain: DOMAIN, groups: ['feeder-1'] },
      { id: 'm-2', domain: DOMAIN, kind: 'relay', groups: ['feeder-1', 'feeder-2'] },
      { id: 'm-3', domain: DOMAIN },
    ]);
    store.record(change({ meterId: 'm-1' }));
    store.record(
      change({
        meterId: 'm-1',
        prevState: 'available',
        state: 'restricted',
        reasonCode: 'load-limit',
        reasonText: 'limit 5 kW',
        seq: 2,
        receivedAt: '2026-11-27T14:10:00.000Z',
      }),
    );
    store.record(change({ meterId: 'm-2', state: 'active', reasonCode: 'dr-event' }));
  });

  afterEach(async () => {
    await app.close();
    db.close();
  });

  const get = (url: string) => app.inject({ method: 'GET', url, headers: as('viewer') });

  it('lists meters with their current state; never seen shows decoupled', async () => {
    const res = await get('/api/meters');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = res.json();
    expect(body.total).toBe(3);
    expect(body.meters[0]).toEqual({
      id: 'm-1',
      jid: 'm-1@grid.example',
      kind: 'revenue-meter',
      groups: ['feeder-1'],
      state: 'restricted',
      reason: { code: 'load-limit', text: 'limit 5 kW' },
      seq: 2,
      since: '2026-11-27T14:00:00Z',
      receivedAt: '2026-11-27T14:10:00.000Z',
      lastSeenAt: '2026-11-27T14:10:00.000Z',
    });
    expect(body.meters[1]).toMatchObject({
      kind: 'relay',
      reason: { code: 'dr-event', text: null },
    });
    expect(body.meters[2]).toEqual({
      id: 'm-3',
      jid: 'm-3@grid.example',
      kind: null,
      groups: [],
      state: 'decoupled',
      reason: null,
      seq: null,
      since: null,
      receivedAt: null,
      lastSeenAt: null,
    });
  });

  it('filters and pages', async () => {
    const ids = async (query: string) =>
      (await get(`/api/meters?${query}`)).json().meters.map((m: { id: string }) => m.id);
    expect(await ids('state=decoupled')).toEqual(['m-3']);
    expect(await ids('state=active')).toEqual(['m-2']);
    expect(await ids('group=feeder-2')).toEqual(['m-2']);
    expect(await ids('q=m-')).toEqual(['m-1', 'm-2', 'm-3']);
    expect(await ids('limit=1&offset=1')).toEqual(['m-2']);
    expect((await get('/api/meters?limit=1')).json().total).toBe(3);
  });

  it.each([
    ['state=sleeping', 'state'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=ten', 'limit'],
    ['offset=-1', 'offset'],
    ['group=Bad%20Group', 'group'],
  ])('answers 400 naming the parameter for %s', async (query, name) => {
    const res = await get(`/api/meters?${query}`);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('bad-request');
    expect(body.error.message).toContain(`'${name}'`);
  });

  it('shows one meter with its latest protocol errors', async () => {
    for (let i = 0; i < 25; i++) {
      store.recordProtocolError({
        meterId: 'm-1',
        receivedAt: '2026-11-27T14:00:00.000Z',
        error: `error ${i}`,
        stanza: '<presence/>',
      });
    }
    const res = await get('/api/meters/m-1');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ id: 'm-1', state: 'restricted', seq: 2 });
    expect(body.protocolErrors).toHaveLength(20);
    expect(body.protocolErrors[0]).toMatchObject({ error: 'error 24', stanza: '<presence/>' });
  });

  it('answers 404 meter-unknown and 400 for a malformed id', async () => {
    const missing = await get('/api/meters/m-404');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      error: { code: 'meter-unknown', message: "meter 'm-404' is not registered" },
    });
    const bad = await get('/api/meters/Not_A_Meter');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain("'id'");
    expect((await get('/api/meters/Not_A_Meter/history')).statusCode).toBe(400);
  });

  it('serves history, filtered by time, ascending', async () => {
    const res = await get('/api/meters/m-1/history');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.meterId).toBe('m-1');
    expect(body.changes.map((c: { state: string }) => c.state)).toEqual([
      'available',
      'restricted',
    ]);
    expect(body.changes[1]).toMatchObject({
      meterId: 'm-1',
      prevState: 'available',
      state: 'restricted',
      reason: { code: 'load-limit', text: 'limit 5 kW' },
      seq: 2,
      source: 'push',
      gap: 0,
    });
    const since = await get('/api/meters/m-1/history?since=2026-11-27T15:05:00%2B01:00');
    expect(since.json().changes.map((c: { seq: number }) => c.seq)).toEqual([2]);
    const until = await get('/api/meters/m-1/history?until=2026-11-27T14:00:00Z&limit=5');
    expect(until.json().changes.map((c: { seq: number }) => c.seq)).toEqual([1]);
    const limited = await get('/api/meters/m-1/history?limit=1');
    expect(limited.json().changes).toHaveLength(1);
    expect((await get('/api/meters/m-3/history')).json().changes).toEqual([]);
  });

  it.each([
    ['since=yesterday', 'since'],
    ['until=2026-13-45T99:00:00Z', 'until'],
    ['since=2026-11-27', 'since'],
    ['limit=10001', 'limit'],
  ])('answers 400 naming the history parameter for %s', async (query, name) => {
    const res = await get(`/api/meters/m-1/history?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'bad-request' });
    expect(res.json().error.message).toContain(`'${name}'`);
  });

  it('keeps the history of a removed meter; 404 for ids never seen', async () => {
    registry.remove('m-1');
    expect((await get('/api/meters/m-1')).statusCode).toBe(404);
    expect((await get('/api/meters/m-1/history')).json().changes).toHaveLength(2);
    const never = await get('/api/meters/m-9/history');
    expect(never.statusCode).toBe(404);
    expect(never.json().error.code).toBe('meter-unknown');
  });

  it('counts meters per state', async () => {
    const res = await get('/api/stats');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      counts: { available: 0, active: 1, restricted: 1, unavailable: 0, decoupled: 1 },
      total: 3,
    });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await get('/api/nothing?x=1');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'not-found', message: 'no route GET /api/nothing' },
    });
    const post = await app.inject({
      method: 'POST',
      url: '/api/meters',
      payload: {},
      headers: as('operator'),
    });
    expect(post.statusCode).toBe(404);
  });
});
