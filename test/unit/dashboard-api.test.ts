import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAccessControl } from '../../presence-service/auth/access-control.js';
import type {
  CommandOutcome,
  CommandRunner,
} from '../../presence-service/commands/command-client.js';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import {
  createDashboardQueries,
  registerDashboard,
} from '../../presence-service/http/dashboard-routes.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createJobStore } from '../../presence-service/store/job-store.js';
import {
  createMeterRegistry,
  type MeterRegistry,
} from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  type PresenceStore,
  type StateChangeInput,
} from '../../presence-service/store/presence-store.js';
import { createTimelineQueries } from '../../presence-service/store/timeline-queries.js';
import { createTestAuth } from './helpers/auth-fixture.js';

// The dashboard's API (docs/dashboard.md), by injection: the fleet and meter timelines and
// availability computed from state_history, the sorted table, a group's jobs, one meter's
// command with every outcome, and the page with its security headers.

const DOMAIN = 'grid.example';
const T0 = Date.parse('2026-11-27T00:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function change(
  meterId: string,
  minutes: number,
  state: StateChangeInput['state'],
  reasonCode: string | null = null,
): StateChangeInput {
  return {
    meterId,
    prevState: null,
    state,
    reasonCode,
    reasonText: null,
    seq: null,
    since: null,
    kind: null,
    receivedAt: at(minutes),
    source: 'push',
    gap: 0,
  };
}

let db: Database;
let registry: MeterRegistry;
let store: PresenceStore;
let app: FastifyInstance;
let as: ReturnType<typeof createTestAuth>['as'];
let outcome: CommandOutcome;
let root: string;

beforeEach(async () => {
  db = openDatabase(':memory:');
  registry = createMeterRegistry({ db, now: () => new Date(T0 - 60_000) });
  store = createPresenceStore({ db });
  registry.addMany(['m-1', 'm-2', 'm-3'].map((id) => ({ id, domain: DOMAIN, groups: ['g'] })));
  // m-1: available at 0:10, restricted 0:40-1:00, then available; m-2: available 0:20, decoupled 0:50.
  for (const c of [
    change('m-1', 10, 'available'),
    change('m-2', 20, 'available'),
    change('m-1', 40, 'restricted', 'relay-open'),
    change('m-2', 50, 'decoupled', 'connection-lost'),
    change('m-1', 60, 'available'),
  ])
    store.record(c);
  const test = createTestAuth(db);
  as = test.as;
  outcome = { kind: 'ok', fields: { relay: ['open'] }, note: 'Relay open.' };
  const run: CommandRunner = async () => outcome;
  root = mkdtempSync(join(tmpdir(), 'gp-dash-'));
  mkdirSync(join(root, 'assets', 'app'), { recursive: true });
  writeFileSync(
    join(root, 'index.html'),
    '<script type="module" src="%ASSETS%/app/main.js"></script>',
  );
  writeFileSync(join(root, 'assets', 'app', 'main.js'), 'export {};');
  app = Fastify();
  installErrorHandlers(app);
  registerAccessControl(app, test.auth);
  registerDashboard(app, {
    registry,
    store,
    jobs: createJobStore({ db }),
    queries: createDashboardQueries(db),
    run,
    callerOf: (request) => request.principal,
    root,
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  db.close();
  rmSync(root, { recursive: true, force: true });
});

describe('timeline queries', () => {
  it('counts the fleet per state at each bucket boundary', () => {
    const t = createTimelineQueries({ db }).fleet({
      from: new Date(T0),
      to: new Date(T0 + 90 * 60_000),
      bucketMs: 30 * 60_000,
    });
    expect(t.at).toEqual([at(0), at(30), at(60), at(90)]);
    expect(t.counts.available).toEqual([0, 2, 1, 1]);
    expect(t.counts.restricted).toEqual([0, 0, 0, 0]);
    expect(t.counts.decoupled).toEqual([3, 1, 2, 2]);
    expect(t.changes).toBe(5);
    const later = createTimelineQueries({ db }).fleet({
      from: new Date(T0 + 45 * 60_000),
      to: new Date(T0 + 55 * 60_000),
      bucketMs: 5 * 60_000,
    });
    // At 0:45 m-1 is restricted (a change before the window), m-2 available.
    expect(later.counts.restricted[0]).toBe(1);
    expect(later.counts.available).toEqual([1, 0, 0]);
  });

  it("gives one meter's segments and its availability per day", () => {
    const q = createTimelineQueries({ db });
    const t = q.meter('m-1', { from: new Date(T0 + 30 * 60_000), to: new Date(T0 + 90 * 60_000) });
    expect(t?.segments.map((s) => [s.state, s.start, s.end])).toEqual([
      ['available', at(30), at(40)],
      ['restricted', at(40), at(60)],
      ['available', at(60), at(90)],
    ]);
    expect(q.meter('nope', { from: new Date(T0), to: new Date(T0 + 1) })).toBeUndefined();
    const days = q.availability('m-2', { days: 2, now: new Date(T0 + 60 * 60_000) });
    // Yesterday: registered for its last minute, decoupled (never seen). Today 0:00-1:00:
    // decoupled 20 min, available 30, decoupled 10.
    expect(days?.map((d) => [d.day, d.observedS, d.upS])).toEqual([
      ['2026-11-26', 60, 0],
      ['2026-11-27', 3600, 1800],
    ]);
    expect(days?.[1]?.share).toBe(0.5);
  });
});

describe('dashboard routes', () => {
  it('sorts the table on the server', async () => {
    const res = await app.inject({
      url: '/api/fleet/meters?sort=-state&limit=2',
      headers: as('viewer'),
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { total: number; meters: Array<{ id: string; state: string }> };
    expect(body.total).toBe(3);
    expect(body.meters.map((m) => m.id)).toEqual(['m-3', 'm-2']); // both decoupled, id descending
    const bad = await app.inject({ url: '/api/fleet/meters?sort=colour', headers: as('viewer') });
    expect(bad.statusCode).toBe(400);
  });

  it('answers the timelines and refuses a window it cannot draw', async () => {
    expect(
      (
        await app.inject({
          url: '/api/stats/timeline?hours=24&bucketMin=15',
          headers: as('viewer'),
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await app.inject({
          url: '/api/stats/timeline?hours=168&bucketMin=1',
          headers: as('viewer'),
        })
      ).statusCode,
    ).toBe(400);
    expect(
      (await app.inject({ url: '/api/meters/m-1/timeline?hours=2', headers: as('viewer') }))
        .statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ url: '/api/meters/zz/availability', headers: as('viewer') })).statusCode,
    ).toBe(404);
  });

  it("runs one meter's command for an operator, with every outcome", async () => {
    const post = (role: 'viewer' | 'operator', id = 'm-1') =>
      app.inject({
        method: 'POST',
        url: `/api/meters/${id}/commands`,
        headers: as(role),
        payload: { command: 'relay', args: { action: ['open'], confirm: ['true'] } },
      });
    expect((await post('viewer')).statusCode).toBe(403);
    const ok = await post('operator');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ outcome: 'ok', fields: { relay: ['open'] } });
    expect((await post('operator', 'm-9')).statusCode).toBe(404);
    outcome = { kind: 'error', condition: 'not-allowed', text: 'relay locked out' };
    const failed = await post('operator');
    expect(failed.statusCode).toBe(422);
    expect(failed.json()).toMatchObject({
      error: { code: 'command-failed', condition: 'not-allowed' },
    });
    outcome = { kind: 'offline', condition: 'service-unavailable' };
    expect((await post('operator')).statusCode).toBe(503);
    outcome = { kind: 'timeout' };
    expect((await post('operator')).statusCode).toBe(504);
  });

  it("lists a group's jobs", async () => {
    const res = await app.inject({ url: '/api/groups/g/jobs', headers: as('viewer') });
    expect(res.json()).toEqual({ group: 'g', jobs: [] });
  });

  it('serves the page openly, with a strict CSP and immutable assets', async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['cache-control']).toBe('no-cache');
    const src = /src="([^"]+)"/.exec(page.body)?.[1] as string;
    const asset = await app.inject({ url: src });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ url: '/api/fleet/meters' })).statusCode).toBe(401);
  });
});
