import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  CommandOutcome,
  CommandRunner,
} from '../../presence-service/commands/command-client.js';
import type { DemandResponseRuleConfig } from '../../presence-service/config.js';
import { createDataStore, type DataStore } from '../../presence-service/data/data-store.js';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import {
  createDemandResponseService,
  type DemandResponseService,
} from '../../presence-service/power/demand-response-service.js';
import { createDrStore, type DrStore } from '../../presence-service/power/dr-store.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';
import { createTestAuth } from './helpers/auth-fixture.js';

// Demand response's running part against a real (in-memory) SQLite and a fake command runner:
// the latest-reading query, decisions and command outcomes on disk, a failed shed replaced on
// the next tick, the HTTP routes, and an operator's limit surviving a restart.

const DOMAIN = 'grid.example';
const RULE: DemandResponseRuleConfig = {
  group: 'feeder-1',
  limitKw: 10,
  holdS: 0,
  releaseHoldS: 0,
  shedLimitKw: 1,
  shedDurationMin: 30,
  priorities: { 'm-1': 1, 'm-2': 2 },
};

let db: Database;
let data: DataStore;
let drStore: DrStore;
let clock: Date;
let seq: number;
const sent: Array<{ meterId: string; node: string; form: Record<string, string[]> }> = [];
const offline = new Set<string>();

const run: CommandRunner = async (meterId, node, form): Promise<CommandOutcome> => {
  sent.push({ meterId, node, form });
  if (offline.has(meterId)) return { kind: 'offline', condition: 'service-unavailable' };
  return { kind: 'ok', fields: {}, note: 'Done.' };
};

const flush = () => new Promise((resolve) => setImmediate(resolve));

function read(meterId: string, kw: number, secondsAgo = 1) {
  data.record(
    meterId,
    {
      kind: 'reading',
      seq: ++seq,
      ts: new Date(clock.getTime() - secondsAgo * 1000).toISOString(),
      values: [
        { id: '1-0:1.7.0', value: String(kw), unit: 'kW' },
        { id: '1-0:32.7.0', value: '230.1', unit: 'V' },
      ],
    },
    { receivedAt: clock.toISOString(), delayed: false },
  );
}

const service = (rules = [RULE]) =>
  createDemandResponseService({
    rules,
    evaluateEveryS: 5,
    readings: data,
    store: drStore,
    run,
    concurrency: 2,
    timeoutMs: 1000,
    logger: silentLogger(),
    now: () => clock,
  });

beforeEach(() => {
  sent.length = 0;
  offline.clear();
  seq = 0;
  clock = new Date('2026-11-27T14:00:00Z');
  db = openDatabase(':memory:');
  data = createDataStore({ db });
  drStore = createDrStore({ db });
  createMeterRegistry({ db }).addMany(
    ['m-1', 'm-2', 'm-3', 'm-4'].map((id) => ({ id, domain: DOMAIN, groups: ['feeder-1'] })),
  );
});

afterEach(() => db.close());

describe('latestReadings', () => {
  it("gives every member its newest reading and the one before's time", () => {
    read('m-1', 1.5, 20);
    read('m-1', 2.5, 10);
    read('m-2', 4);
    const latest = data.latestReadings('feeder-1');
    expect(latest.map((l) => l.meterId)).toEqual(['m-1', 'm-2', 'm-3', 'm-4']);
    expect(latest[0]).toMatchObject({
      ts: '2026-11-27T13:59:50.000Z',
      previousTs: '2026-11-27T13:59:40.000Z',
    });
    expect(latest[0]?.values[0]).toEqual({ id: '1-0:1.7.0', value: '2.5', unit: 'kW' });
    expect(latest[1]).toMatchObject({ previousTs: null });
    expect(latest[2]).toEqual({ meterId: 'm-3', ts: null, previousTs: null, values: [] });
    expect(data.latestReadings('feeder-9')).toEqual([]);
  });
});

describe('demand-response service', () => {
  let dr: DemandResponseService;
  let app: FastifyInstance;
  let operator: { authorization: string };

  beforeEach(async () => {
    dr = service();
    dr.start();
    const { auth, as } = createTestAuth(db);
    operator = as('operator');
    app = buildHttpApi({
      auth,
      registry: createMeterRegistry({ db }),
      store: createPresenceStore({ db }),
      demandResponse: { service: dr, store: drStore },
      bus: createChangeBus(),
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
    });
    await app.ready();
  });

  afterEach(async () => {
    dr.stop();
    await app.close();
  });

  it('sheds, records outcomes, replaces a failed shed, and releases after a raised limit', async () => {
    offline.add('m-1');
    for (const [id, kw] of [
      ['m-1', 5],
      ['m-2', 4],
      ['m-3', 3],
      ['m-4', 2],
    ] as const)
      read(id, kw);
    dr.evaluate(); // 14 kW > 10: m-1 (prio 1, 5 kW) is enough, but it is offline
    await flush();
    expect(sent).toEqual([
      {
        meterId: 'm-1',
        node: 'urn:gridpresence:cmd:load-limit',
        form: { 'limit-kw': ['1'], 'duration-min': ['30'] },
      },
    ]);
    clock = new Date(clock.getTime() + 5000);
    dr.evaluate(); // the next tick tries m-2 (prio 2): 14 − 3 = 11, then m-3 (3 kW): 9
    await flush();
    expect(sent.map((s) => s.meterId)).toEqual(['m-1', 'm-2', 'm-3']);

    const status = (await app.inject({ url: '/api/demand-response', headers: operator })).json()
      .rules[0];
    expect(status).toMatchObject({
      group: 'feeder-1',
      state: 'shedding',
      limitKw: 10,
      failed: ['m-1'],
      limitSource: 'config',
    });
    expect(status.shed.map((s: { meterId: string }) => s.meterId)).toEqual(['m-2', 'm-3']);

    const put = await app.inject({
      method: 'PUT',
      url: '/api/demand-response/rules/feeder-1',
      payload: { limitKw: 50 },
      headers: operator,
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ limitKw: 50, limitSource: 'operator' });
    clock = new Date(clock.getTime() + 5000);
    dr.evaluate(); // releaseHoldS 0: released at once, the failed one too
    await flush();
    expect(sent.slice(3)).toEqual(
      ['m-1', 'm-2', 'm-3'].map((meterId) => ({
        meterId,
        node: 'urn:gridpresence:cmd:load-limit',
        form: { clear: ['true'] },
      })),
    );

    const events = (
      await app.inject({ url: '/api/demand-response/events?group=feeder-1', headers: operator })
    ).json().events;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ group: 'feeder-1', peakKw: 14, limitKw: 10 });
    expect(events[0].endedAt).not.toBeNull();
    const event = (
      await app.inject({ url: `/api/demand-response/events/${events[0].id}`, headers: operator })
    ).json();
    expect(
      event.decisions.map((d: { kind: string; meterId: string | null; outcome: string | null }) =>
        [d.kind, d.meterId, d.outcome].join(' '),
      ),
    ).toEqual([
      'event-start  ',
      'shed m-1 offline',
      'still-over  ',
      'shed m-2 ok',
      'shed m-3 ok',
      'limit-change  ',
      'release m-1 offline',
      'release m-2 ok',
      'release m-3 ok',
      'event-end  ',
    ]);
    expect(event.decisions[1]).toMatchObject({
      reason: 'total 14 kW > limit 10 kW for 0 s; shedding m-1 (prio 1, 5 kW) to 1 kW for 30 min',
      detail: 'service-unavailable',
    });
    expect(event.decisions[5].reason).toMatch(/^limit 10 kW → 50 kW by test-operator/);
  });

  it('answers 404 for an unknown rule or event and 400 for a bad limit', async () => {
    const put = (url: string, payload: Record<string, unknown>) =>
      app.inject({ method: 'PUT', url, payload, headers: operator });
    expect((await put('/api/demand-response/rules/feeder-9', { limitKw: 5 })).json()).toEqual({
      error: { code: 'rule-unknown', message: "no demand-response rule for group 'feeder-9'" },
    });
    expect((await put('/api/demand-response/rules/feeder-1', { limitKw: 0 })).statusCode).toBe(400);
    expect(
      (await app.inject({ url: '/api/demand-response/events/99', headers: operator })).statusCode,
    ).toBe(404);
  });

  it("keeps an operator's limit across a restart unless the config's limit changed", () => {
    dr.setLimit('feeder-1', 7.5, 'test');
    dr.stop();
    expect(service().status()[0]).toMatchObject({ limitKw: 7.5, limitSource: 'operator' });
    expect(service([{ ...RULE, limitKw: 12 }]).status()[0]).toMatchObject({
      limitKw: 12,
      limitSource: 'config',
    });
  });

  it('ends the events and commands a stopped run left open', () => {
    read('m-1', 20);
    dr.evaluate();
    dr.stop(); // the shed's answer never gets stored
    const next = service();
    next.start();
    next.stop();
    const [event] = drStore.events({ limit: 10 });
    expect(event?.endedAt).toBe(clock.toISOString());
    expect(drStore.decisions(event?.id ?? 0).map((d) => d.outcome)).toEqual([null, 'interrupted']);
  });
});
