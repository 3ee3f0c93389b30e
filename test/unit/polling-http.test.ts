import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import { registerPollingRoutes } from '../../presence-service/http/polling-routes.js';
import type { Clock } from '../../presence-service/polling/clock.js';
import type { PollResult } from '../../presence-service/polling/poll-runner.js';
import {
  createPollScheduler,
  type PollScheduler,
} from '../../presence-service/polling/poll-scheduler.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPollStore, type PollStore } from '../../presence-service/store/poll-store.js';
import { silentLogger } from '../../src/log.js';

// The polling routes by injection (STYLE §7): schedules with their next firing and last run, a
// run started by hand, a schedule's runs, and a meter's stored last activity.

const DOMAIN = 'grid.example';
const NOW = Date.parse('2026-11-27T14:00:10Z');

/** Time stands still: schedules are armed but never fire; runs by hand need no timer. */
const stillClock: Clock = { now: () => NOW, setTimeout: () => 0, clearTimeout: () => {} };

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('polling API', () => {
  let db: Database;
  let app: FastifyInstance;
  let scheduler: PollScheduler;
  let pollStore: PollStore;
  /** Polls wait here until the test ends them. */
  let held: Array<(result: PollResult) => void>;

  beforeEach(async () => {
    held = [];
    db = openDatabase(':memory:');
    const registry = createMeterRegistry({ db });
    registry.addMany([
      { id: 'm-1', domain: DOMAIN, groups: ['feeder-1'] },
      { id: 'm-2', domain: DOMAIN, groups: ['feeder-1'] },
      { id: 'm-3', domain: DOMAIN },
    ]);
    pollStore = createPollStore({ db });
    scheduler = createPollScheduler({
      schedules: [
        {
          name: 'feeder-ping',
          cron: '*/5 * * * *',
          kind: 'ping',
          group: 'feeder-1',
          concurrency: 64,
          timeoutMs: 5_000,
        },
        {
          name: 'hourly-status',
          cron: '0 * * * *',
          kind: 'status',
          concurrency: 64,
          timeoutMs: 10_000,
        },
      ],
      clock: stillClock,
      membersOf: (group) =>
        group === undefined ? registry.ids() : group === 'feeder-1' ? ['m-1', 'm-2'] : [],
      poll: () => new Promise((resolve) => held.push(resolve)),
      store: pollStore,
      isOnline: () => true,
      logger: silentLogger(),
    });
    scheduler.start();
    app = Fastify();
    installErrorHandlers(app);
    registerPollingRoutes(app, { scheduler, pollStore, registry });
    await app.ready();
  });

  afterEach(async () => {
    const stopped = scheduler.stop();
    for (const finish of held) finish('ok');
    await stopped;
    await app.close();
    db.close();
  });

  const get = (url: string) => app.inject({ method: 'GET', url });
  const runNow = (name: string) => app.inject({ method: 'POST', url: `/api/polls/${name}/run` });

  it('lists the schedules with their next firing and last run', async () => {
    const res = await get('/api/polls');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      schedules: [
        {
          name: 'feeder-ping',
          kind: 'ping',
          group: 'feeder-1',
          cron: '*/5 * * * *',
          nextRunAt: '2026-11-27T14:05:00.000Z',
          running: false,
          lastRun: null,
        },
        {
          name: 'hourly-status',
          kind: 'status',
          group: null,
          cron: '0 * * * *',
          nextRunAt: '2026-11-27T15:00:00.000Z',
          running: false,
          lastRun: null,
        },
      ],
    });
  });

  it('runs a schedule by hand (202), refuses it while it runs (409), and shows the run', async () => {
    const res = await runNow('feeder-ping');
    expect(res.statusCode).toBe(202);
    expect(res.headers.location).toBe('/api/polls/feeder-ping/runs');
    expect(res.json()).toEqual({ runId: 1, schedule: 'feeder-ping', meters: 2 });

    const busy = await runNow('feeder-ping');
    expect(busy.statusCode).toBe(409);
    expect(busy.json().error.code).toBe('schedule-busy');
    const listed = (await get('/api/polls')).json().schedules[0];
    expect(listed).toMatchObject({
      running: true,
      lastRun: { id: 1, finishedAt: null, counts: null },
    });

    const [first, second] = held.splice(0);
    first?.('ok');
    second?.('timeout');
    await settle();
    const runs = await get('/api/polls/feeder-ping/runs');
    expect(runs.statusCode).toBe(200);
    expect(runs.json()).toEqual({
      schedule: 'feeder-ping',
      runs: [
        {
          id: 1,
          schedule: 'feeder-ping',
          kind: 'ping',
          startedAt: '2026-11-27T14:00:10.000Z',
          finishedAt: '2026-11-27T14:00:10.000Z',
          meters: 2,
          counts: { ok: 1, changed: 0, offline: 0, timeout: 1, error: 0, skipped: 0 },
        },
      ],
    });
  });

  it('lists runs newest first, as many as asked', async () => {
    for (let i = 0; i < 3; i++) {
      await runNow('hourly-status');
      for (const finish of held.splice(0)) finish('ok');
      await settle();
    }
    const res = await get('/api/polls/hourly-status/runs?limit=2');
    expect(res.json().runs.map((r: { id: number; meters: number }) => [r.id, r.meters])).toEqual([
      [3, 3],
      [2, 3],
    ]);
    expect((await get('/api/polls/hourly-status/runs?limit=0')).statusCode).toBe(400);
  });

  it('answers 404 for an unknown schedule and 400 for a malformed name', async () => {
    for (const res of [await runNow('weekly'), await get('/api/polls/weekly/runs')]) {
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({
        error: { code: 'schedule-unknown', message: "no polling schedule 'weekly'" },
      });
    }
    const bad = await runNow('Bad_Name');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/^path parameter 'name' must be lower-case/);
  });

  it("serves a meter's last activity: null until asked, 404 for an unknown meter", async () => {
    expect((await get('/api/meters/m-1/last-activity')).json()).toEqual({
      meterId: 'm-1',
      lastActivity: null,
    });
    const record = {
      meterId: 'm-1',
      idleS: 90,
      lastActiveAt: '2026-11-27T13:58:40.000Z',
      statusText: 'Decoupled: shutdown',
      askedAt: '2026-11-27T14:00:10.000Z',
    };
    pollStore.saveLastActivity(record);
    expect((await get('/api/meters/m-1/last-activity')).json()).toEqual({
      meterId: 'm-1',
      lastActivity: record,
    });
    const unknown = await get('/api/meters/m-9/last-activity');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('meter-unknown');
  });
});
