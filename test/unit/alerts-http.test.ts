import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AlertStore,
  createAlertStore,
  type NewAlert,
} from '../../presence-service/alerts/alert-store.js';
import { registerAccessControl } from '../../presence-service/auth/access-control.js';
import { registerAlertsRoutes } from '../../presence-service/http/alerts-routes.js';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createTestAuth, type TestAuth } from './helpers/auth-fixture.js';

// Alerts over HTTP, by injection (STYLE §7): the list with its filters, acknowledgement, and the
// errors (404 unknown, 409 already acknowledged, 400 bad parameters). Behind the access control,
// as in the service: acknowledgements are recorded as by the caller's user.

const alert = (meterId: string, raisedAt: string, overrides: Partial<NewAlert> = {}): NewAlert => ({
  meterId,
  kind: 'decoupled',
  raisedAt,
  historyId: null,
  state: 'decoupled',
  reasonCode: 'no-response',
  text: `${meterId} decoupled (no-response) at ${raisedAt}`,
  delivery: 'sent',
  ...overrides,
});

describe('alerts API', () => {
  let db: Database;
  let store: AlertStore;
  let app: FastifyInstance;
  let as: TestAuth['as'];

  beforeEach(async () => {
    db = openDatabase(':memory:');
    store = createAlertStore({ db });
    app = Fastify();
    installErrorHandlers(app);
    const test = createTestAuth(db);
    as = test.as;
    registerAccessControl(app, test.auth);
    registerAlertsRoutes(app, { store });
    await app.ready();
    store.insert(alert('mtr-0001', '2026-11-27T12:00:00.000Z'));
    store.insert(alert('mtr-0002', '2026-11-27T12:05:00.000Z', { delivery: 'rate-limited' }));
    store.insert(alert('mtr-0001', '2026-11-27T12:10:00.000Z', { delivery: 'duplicate' }));
    store.insert(alert('mtr-0001', '2026-11-27T12:20:00.000Z', { kind: 'recovered' }));
    store.ack(4, 'bob@grid.example', '2026-11-27T12:21:00.000Z');
  });

  afterEach(async () => {
    await app.close();
    db.close();
  });

  const ids = async (query: string) => {
    const response = await app.inject({
      method: 'GET',
      url: `/api/alerts${query}`,
      headers: as('viewer'),
    });
    expect(response.statusCode).toBe(200);
    return (response.json() as { alerts: Array<{ id: number }> }).alerts.map((a) => a.id);
  };
  const ack = (id: number | string, payload?: object, role: 'viewer' | 'operator' = 'operator') =>
    app.inject({
      method: 'POST',
      url: `/api/alerts/${id}/ack`,
      headers: as(role),
      ...(payload && { payload }),
    });

  it('lists alerts newest first, filtered by open, meter and since, up to limit', async () => {
    expect(await ids('')).toEqual([4, 3, 2, 1]);
    expect(await ids('?open=true')).toEqual([2, 1]);
    expect(await ids('?open=false')).toEqual([4, 3, 2, 1]);
    expect(await ids('?meter=mtr-0001')).toEqual([4, 3, 1]);
    expect(await ids('?meter=mtr-0001&open=true')).toEqual([1]);
    expect(await ids('?since=2026-11-27T13:05:00%2B01:00')).toEqual([4, 3, 2]);
    expect(await ids('?meter=mtr-0001&since=2026-11-27T12:10:00Z&open=true')).toEqual([]);
    expect(await ids('?limit=1')).toEqual([4]);
    const [first] = (await app.inject({ url: '/api/alerts?limit=1', headers: as('viewer') })).json()
      .alerts;
    expect(first).toEqual({
      id: 4,
      meterId: 'mtr-0001',
      kind: 'recovered',
      raisedAt: '2026-11-27T12:20:00.000Z',
      historyId: null,
      state: 'decoupled',
      reasonCode: 'no-response',
      text: 'mtr-0001 decoupled (no-response) at 2026-11-27T12:20:00.000Z',
      delivery: 'sent',
      ackedAt: '2026-11-27T12:21:00.000Z',
      ackedBy: 'bob@grid.example',
    });
  });

  it('acknowledges an alert as the signed-in user, whatever name the body gives', async () => {
    const named = await ack(1, { by: 'alice@grid.example' });
    expect(named.statusCode).toBe(200);
    expect(named.json()).toMatchObject({ id: 1, ackedBy: 'test-operator' });
    expect(Date.parse(named.json().ackedAt)).not.toBeNaN();
    const bare = await ack(2);
    expect(bare.statusCode).toBe(200);
    expect(bare.json()).toMatchObject({ id: 2, ackedBy: 'test-operator' });
    expect(await ids('?open=true')).toEqual([]);
  });

  it('lets a viewer read alerts but not acknowledge them', async () => {
    const refused = await ack(1, undefined, 'viewer');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('forbidden');
    expect(store.get(1)?.ackedAt).toBeNull();
  });

  it('answers 404 for an unknown alert and 409 for one already acknowledged', async () => {
    const unknown = await ack(99, {});
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: { code: 'alert-unknown', message: 'no alert 99' } });
    const again = await ack(4);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({
      error: {
        code: 'alert-acked',
        message: 'alert 4 was already acknowledged by bob@grid.example at 2026-11-27T12:21:00.000Z',
      },
    });
    expect(store.get(4)?.ackedBy).toBe('bob@grid.example');
  });

  it('refuses bad parameters with a 400 that names them', async () => {
    const cases: Array<[string, string]> = [
      ['/api/alerts?limit=0', 'limit'],
      ['/api/alerts?meter=Not_A_Meter', 'meter'],
      ['/api/alerts?since=yesterday', 'since'],
      ['/api/alerts?since=2026-13-45T12:00:00Z', 'since'],
    ];
    for (const [url, name] of cases) {
      const response = await app.inject({ url, headers: as('viewer') });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().error.message, url).toContain(`'${name}'`);
    }
    expect((await ack('abc')).statusCode).toBe(400);
    expect(store.get(1)?.ackedAt).toBeNull();
  });
});
