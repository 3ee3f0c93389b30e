import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDataStore, type DataStore } from '../../presence-service/data/data-store.js';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import {
  createMeterRegistry,
  type MeterRegistry,
} from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';
import { createTestAuth } from './helpers/auth-fixture.js';

// GET /api/meters/:id/readings, /events, /audit by injection (STYLE §7).

const at = (minute: number) => `2026-11-27T14:${String(minute).padStart(2, '0')}:00.000Z`;

describe('data API', () => {
  let db: Database;
  let registry: MeterRegistry;
  let data: DataStore;
  let app: FastifyInstance;
  let viewer: { authorization: string };

  beforeEach(async () => {
    db = openDatabase(':memory:');
    registry = createMeterRegistry({ db });
    data = createDataStore({ db });
    const { auth, as } = createTestAuth(db);
    viewer = as('viewer');
    app = buildHttpApi({
      auth,
      registry,
      store: createPresenceStore({ db }),
      data,
      bus: createChangeBus(),
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
    });
    await app.ready();
    registry.addMany([
      { id: 'm-1', domain: 'grid.example' },
      { id: 'm-2', domain: 'grid.example' },
    ]);
    const meta = { receivedAt: '2026-11-27T15:00:00.000Z', delayed: false };
    for (let seq = 1; seq <= 4; seq++) {
      data.record(
        'm-1',
        {
          kind: 'reading',
          ts: at(seq),
          seq,
          values: [{ id: '1-0:1.8.0', value: `${seq}.5`, unit: 'kWh' }],
          ...(seq === 4 ? { dropped: 2 } : {}),
        },
        { ...meta, delayed: seq === 3 },
      );
    }
    data.record('m-1', { kind: 'event', ts: at(5), seq: 5, type: 'relay', detail: 'open' }, meta);
    data.record(
      'm-1',
      {
        kind: 'audit',
        ts: at(6),
        seq: 6,
        from: 'op@grid.example/x',
        via: 'adhoc',
        command: 'relay',
        args: { action: ['open'] },
        outcome: 'ok',
        detail: 'relay opened',
      },
      meta,
    );
  });

  afterEach(async () => {
    await app.close();
    db.close();
  });

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url, headers: viewer });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };

  it('lists readings oldest first, with delayed and dropped', async () => {
    const { status, body } = await get('/api/meters/m-1/readings');
    expect(status).toBe(200);
    expect(body.meterId).toBe('m-1');
    const readings = body.readings as Array<Record<string, unknown>>;
    expect(readings.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(readings[2]).toMatchObject({ delayed: true, dropped: 0 });
    expect(readings[3]).toEqual({
      seq: 4,
      ts: at(4),
      receivedAt: '2026-11-27T15:00:00.000Z',
      delayed: false,
      dropped: 2,
      values: [{ id: '1-0:1.8.0', value: '4.5', unit: 'kWh' }],
    });
  });

  it('filters by the meter’s time and limits', async () => {
    const since = encodeURIComponent('2026-11-27T15:02:00+01:00'); // = 14:02Z
    const { body } = await get(`/api/meters/m-1/readings?since=${since}&limit=2`);
    expect((body.readings as Array<{ seq: number }>).map((r) => r.seq)).toEqual([2, 3]);
    const until = await get(`/api/meters/m-1/readings?until=${at(2)}`);
    expect((until.body.readings as Array<{ seq: number }>).map((r) => r.seq)).toEqual([1, 2]);
    const newest = await get('/api/meters/m-1/readings?limit=1');
    expect((newest.body.readings as Array<{ seq: number }>).map((r) => r.seq)).toEqual([4]);
  });

  it('lists events and audit entries', async () => {
    const events = await get('/api/meters/m-1/events');
    expect(events.body.events).toEqual([
      {
        seq: 5,
        ts: at(5),
        receivedAt: '2026-11-27T15:00:00.000Z',
        delayed: false,
        type: 'relay',
        phase: null,
        magnitude: null,
        durationMs: null,
        detail: 'open',
      },
    ]);
    const audit = await get(`/api/meters/m-1/audit?since=${at(0)}&limit=5`);
    expect(audit.body.audit).toMatchObject([
      { seq: 6, from: 'op@grid.example/x', command: 'relay', args: { action: ['open'] } },
    ]);
  });

  it('answers an empty list for a meter with no data and 404 for an unknown one', async () => {
    expect((await get('/api/meters/m-2/readings')).body.readings).toEqual([]);
    const unknown = await get('/api/meters/m-9/events');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: { code: 'meter-unknown', message: "meter 'm-9' is not registered" },
    });
  });

  it.each([
    ['/api/meters/m-1/readings?limit=0', /'limit'/],
    ['/api/meters/m-1/readings?limit=lots', /'limit'/],
    ['/api/meters/m-1/events?since=yesterday', /'since' must be an RFC 3339 date-time/],
    ['/api/meters/m-1/audit?until=2026-13-01T00:00:00Z', /'until' is not a valid/],
    [`/api/meters/m-1/readings?since=${at(5)}&until=${at(1)}`, /'until' is before 'since'/],
    ['/api/meters/Not_A_Meter/readings', /path parameter 'id'/],
  ])('400 for %s', async (url, message) => {
    const { status, body } = await get(url);
    expect(status).toBe(400);
    expect((body.error as { message: string }).message).toMatch(message);
  });
});
