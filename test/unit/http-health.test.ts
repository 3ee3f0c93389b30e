import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import type { XmppHealth } from '../../presence-service/http/health-route.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';
import { createRootLogger, silentLogger } from '../../src/log.js';
import { createTestAuth } from './helpers/auth-fixture.js';

describe('GET /healthz', () => {
  const db = openDatabase(':memory:');
  const registry = createMeterRegistry({ db });
  registry.addMany([
    { id: 'm-1', domain: 'grid.example' },
    { id: 'm-2', domain: 'grid.example' },
  ]);
  let xmpp: XmppHealth = 'online';
  const app = buildHttpApi({
    // GET /healthz is open: no credentials are sent below.
    auth: createTestAuth(db).auth,
    registry,
    store: createPresenceStore({ db }),
    bus: createChangeBus(),
    logger: silentLogger(),
    health: () => ({ xmpp }),
  });
  afterEach(() => {
    xmpp = 'online';
  });
  afterAll(async () => {
    await app.close();
    db.close();
  });

  it('is 200 ok while the XMPP component is online', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', xmpp: 'online', meters: 2 });
  });

  it.each(['offline', 'connecting'] as const)('is 503 degraded while %s', async (state) => {
    xmpp = state;
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'degraded', xmpp: state, meters: 2 });
  });
});

describe('request logging', () => {
  it('logs routine requests at debug level only', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const db = openDatabase(':memory:');
    const logger = createRootLogger({ name: 'test', level: 'debug', destination });
    const { auth, as } = createTestAuth(db);
    const app = buildHttpApi({
      auth,
      registry: createMeterRegistry({ db }),
      store: createPresenceStore({ db }),
      bus: createChangeBus(),
      logger,
      health: () => ({ xmpp: 'online' }),
    });
    await app.inject({ method: 'GET', url: '/api/stats', headers: as('viewer') });
    await app.close();
    db.close();
    const messages = lines.map((l) => `${l.level} ${l.msg}`);
    expect(messages).toContain('20 incoming request');
    expect(messages).toContain('20 request completed');
    expect(lines.filter((l) => l.level >= 30)).toEqual([]);
  });
});
