import type { Component } from '@xmpp/component';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAlertService } from '../../presence-service/alerts/alert-service.js';
import { createCommandClient } from '../../presence-service/commands/command-client.js';
import { createDataRecorder } from '../../presence-service/data/data-recorder.js';
import { createDataStore } from '../../presence-service/data/data-store.js';
import { createOutboxBacklog } from '../../presence-service/data/outbox-backlog.js';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import { registerMetricsRoute } from '../../presence-service/http/metrics-route.js';
import { createLivenessMonitor } from '../../presence-service/liveness/liveness-monitor.js';
import { countProtocolErrors } from '../../presence-service/metrics/count-protocol-errors.js';
import { createMetrics, type Metrics } from '../../presence-service/metrics/metrics.js';
import { createPollRunner } from '../../presence-service/polling/poll-runner.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { createPresenceRecorder } from '../../presence-service/presence/presence-recorder.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPollStore } from '../../presence-service/store/poll-store.js';
import {
  createPresenceStore,
  type PresenceStore,
} from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';
import type { ReadingItem } from '../../src/protocol/data.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';

// The Prometheus metrics (docs/metrics.md): each one moves when its hook is called, the
// modules call their hooks, the exposition parses, and GET /metrics serves it.

const DOMAIN = 'grid.example';
const available = (seq: number): MeterStatus => ({
  state: 'available',
  seq,
  since: '2026-11-27T12:00:00Z',
  kind: 'revenue-meter',
});

/** `name{a="x",b="y"}` → value, labels sorted by name; comments skipped. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const [, name, , labelText, value] = match;
    const labels = [...(labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, key, v]) => `${key}="${v}"`)
      .sort();
    samples.set(`${name}{${labels.join(',')}}`, Number(value));
  }
  return samples;
}

/** One sample's value; undefined if the series does not exist. */
async function sample(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const key = `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;
  return parseExposition(await metrics.exposition()).get(key);
}

let db: Database;
let store: PresenceStore;
let metrics: Metrics;
let online: boolean;
let backlog: ReturnType<typeof createOutboxBacklog>;

beforeEach(() => {
  db = openDatabase(':memory:');
  store = createPresenceStore({ db });
  online = true;
  backlog = createOutboxBacklog();
  metrics = createMetrics(
    {
      meterCounts: () => store.counts(),
      outboxBacklog: () => backlog.summary(),
      xmppOnline: () => online,
    },
    { processMetrics: false },
  );
});
afterEach(() => db.close());

describe('the exposition', () => {
  it('parses, names every metric gridpresence_* with HELP and TYPE, and has process metrics', async () => {
    const withProcess = createMetrics({ meterCounts: () => store.counts() });
    const text = await withProcess.exposition();
    const names = new Set([...parseExposition(text).keys()].map((k) => k.split('{')[0]));
    expect(names.size).toBeGreaterThan(10);
    for (const name of names) expect(name).toMatch(/^gridpresence_/);
    for (const base of ['gridpresence_meters', 'gridpresence_state_changes_total']) {
      expect(text).toContain(`# HELP ${base} `);
    }
    expect(text).toContain('# TYPE gridpresence_command_duration_seconds histogram');
    expect(names).toContain('gridpresence_process_cpu_seconds_total');
    expect(names).toContain('gridpresence_nodejs_eventloop_lag_seconds');
  });

  it('keeps its own registry: two instances do not collide', async () => {
    const other = createMetrics({ meterCounts: () => store.counts() }, { processMetrics: false });
    other.protocolError();
    expect(await sample(other, 'gridpresence_protocol_errors_total')).toBe(1);
    expect(await sample(metrics, 'gridpresence_protocol_errors_total')).toBe(0);
  });
});

describe('scrape-time gauges', () => {
  it('counts registered meters per state from the presence store', async () => {
    createMeterRegistry({ db }).addMany([
      { id: 'm-1', domain: DOMAIN },
      { id: 'm-2', domain: DOMAIN },
      { id: 'm-3', domain: DOMAIN },
    ]);
    const recorder = createPresenceRecorder({
      store,
      bus: createChangeBus(),
      logger: silentLogger(),
    });
    recorder.status('m-1', available(1), 'push', new Date());
    recorder.status('m-2', available(1), 'push', new Date());
    expect(await sample(metrics, 'gridpresence_meters', { state: 'available' })).toBe(2);
    // never heard from: decoupled (PROTOCOL §1)
    expect(await sample(metrics, 'gridpresence_meters', { state: 'decoupled' })).toBe(1);
    expect(await sample(metrics, 'gridpresence_meters', { state: 'restricted' })).toBe(0);
  });

  it('reports whether the component is connected', async () => {
    expect(await sample(metrics, 'gridpresence_xmpp_connected')).toBe(1);
    online = false;
    expect(await sample(metrics, 'gridpresence_xmpp_connected')).toBe(0);
  });
});

describe('each hook moves its metric', () => {
  it('state changes by state and source (from the change bus)', async () => {
    const bus = createChangeBus();
    bus.subscribe(metrics.stateChanged);
    const recorder = createPresenceRecorder({ store, bus, logger: silentLogger() });
    const before = await sample(metrics, 'gridpresence_state_changes_total', {
      state: 'available',
      source: 'push',
    });
    expect(before).toBe(0);
    recorder.status('m-1', available(1), 'push', new Date());
    recorder.gone('m-1', 'no-response', 'ping', new Date());
    expect(
      await sample(metrics, 'gridpresence_state_changes_total', {
        state: 'available',
        source: 'push',
      }),
    ).toBe(1);
    expect(
      await sample(metrics, 'gridpresence_state_changes_total', {
        state: 'decoupled',
        source: 'ping',
      }),
    ).toBe(1);
  });

  it('protocol errors, whichever road they take to the store', async () => {
    const counted = countProtocolErrors(store, metrics);
    const recorder = createPresenceRecorder({
      store: counted,
      bus: createChangeBus(),
      logger: silentLogger(),
    });
    recorder.protocolError('m-1', 'presence without the extension', '<presence/>', new Date());
    counted.recordProtocolError({
      meterId: 'm-1',
      receivedAt: new Date().toISOString(),
      error: 'data seq reused',
      stanza: '<message/>',
    });
    expect(await sample(metrics, 'gridpresence_protocol_errors_total')).toBe(2);
    expect(store.protocolErrors('m-1', 10)).toHaveLength(2);
  });

  it('poll results by kind and result (poll-runner onResult)', async () => {
    const recorder = createPresenceRecorder({
      store,
      bus: createChangeBus(),
      logger: silentLogger(),
    });
    const poll = createPollRunner({
      query: async () => ({ kind: 'status', status: available(1) }),
      ping: async () => ({ kind: 'timeout' }),
      lastActivity: async () => ({ kind: 'timeout' }),
      recorder,
      currentState: () => 'available',
      pollStore: createPollStore({ db }),
      suspect: () => {},
      logger: silentLogger(),
      onResult: metrics.pollResult,
    });
    expect(await poll('status', 'm-1', 1000)).toBe('changed');
    expect(await poll('status', 'm-1', 1000)).toBe('ok');
    expect(await poll('ping', 'm-1', 1000)).toBe('timeout');
    expect(await poll('last-activity', 'm-1', 1000)).toBe('skipped');
    for (const [kind, result, n] of [
      ['status', 'changed', 1],
      ['status', 'ok', 1],
      ['ping', 'timeout', 1],
      ['last-activity', 'skipped', 1],
      ['email', 'error', 0],
    ] as const) {
      expect(await sample(metrics, 'gridpresence_polls_total', { kind, result })).toBe(n);
    }
  });

  it('command latency by command and outcome (command-client onFinished)', async () => {
    const failures = [
      Object.assign(new Error('timed out'), { name: 'TimeoutError' }),
      Object.assign(new Error('offline'), {
        name: 'StanzaError',
        condition: 'service-unavailable',
      }),
    ];
    const xmpp = {
      iqCaller: {
        request: async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw failures.shift();
        },
      },
    } as unknown as Component;
    const run = createCommandClient({
      xmpp,
      componentJid: `presence.${DOMAIN}`,
      domain: DOMAIN,
      onFinished: metrics.commandFinished,
    });
    expect(await run('m-1', 'urn:gridpresence:cmd:relay', {}, 1000)).toEqual({ kind: 'timeout' });
    expect((await run('m-1', 'urn:gridpresence:cmd:read', {}, 1000)).kind).toBe('offline');
    const relay = { command: 'relay', outcome: 'timeout' };
    expect(await sample(metrics, 'gridpresence_command_duration_seconds_count', relay)).toBe(1);
    const seconds = await sample(metrics, 'gridpresence_command_duration_seconds_sum', relay);
    expect(seconds).toBeGreaterThanOrEqual(0.015);
    expect(seconds).toBeLessThan(5);
    expect(
      await sample(metrics, 'gridpresence_command_duration_seconds_bucket', {
        ...relay,
        le: '0.01',
      }),
    ).toBe(0);
    expect(
      await sample(metrics, 'gridpresence_command_duration_seconds_count', {
        command: 'read',
        outcome: 'offline',
      }),
    ).toBe(1);
    // a node that is not ours does not make a series of its own
    metrics.commandFinished('urn:elsewhere:x', 'ok', 0.1);
    expect(
      await sample(metrics, 'gridpresence_command_duration_seconds_count', {
        command: 'other',
        outcome: 'ok',
      }),
    ).toBe(1);
  });

  it('liveness verdicts by reason (liveness-monitor onVerdict)', async () => {
    const bus = createChangeBus();
    const recorder = createPresenceRecorder({ store, bus, logger: silentLogger() });
    let clock = Date.UTC(2026, 10, 27, 12);
    let answer: 'pong' | 'timeout' = 'pong';
    const monitor = createLivenessMonitor({
      ping: async () => (answer === 'pong' ? { kind: 'pong', rttMs: 1 } : { kind: 'timeout' }),
      query: async () => ({ kind: 'status', status: available(1) }),
      recorder,
      bus,
      initialStates: () => store.allCurrent(),
      meters: () => ({
        ids: ['m-1'],
        limitsOf: () => ({ quietS: 5, pingTimeoutMs: 1000, tries: 1 }),
      }),
      serverAnswering: async () => true,
      sweepEveryMs: 60_000,
      concurrency: 1,
      logger: silentLogger(),
      now: () => clock,
      onVerdict: metrics.livenessVerdict,
    });
    recorder.status('m-1', available(1), 'push', new Date(clock));
    monitor.start();
    monitor.setOnline(true);
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    clock += 6_000;
    monitor.sweep();
    await settle();
    expect(
      await sample(metrics, 'gridpresence_liveness_verdicts_total', { reason: 'answered' }),
    ).toBe(1);
    answer = 'timeout';
    clock += 6_000;
    monitor.sweep();
    await settle();
    monitor.stop();
    expect(
      await sample(metrics, 'gridpresence_liveness_verdicts_total', { reason: 'no-response' }),
    ).toBe(1);
    expect(store.current('m-1')).toMatchObject({ state: 'decoupled', reasonCode: 'no-response' });
  });

  it('alerts by kind and delivery, and failed sends (alert-service hooks)', async () => {
    const bus = createChangeBus();
    const service = createAlertService({
      config: {
        xmpp: ['ops@grid.example'],
        email: [],
        onRecovery: true,
        flapping: { changes: 5, windowMin: 10 },
        repeatAfterS: 300,
        maxPerMinute: 20,
      },
      bus,
      store: { insert: () => 1 },
      send: async () => {
        throw new Error('component offline');
      },
      logger: silentLogger(),
      onAlert: metrics.alertRaised,
      onSendFailed: metrics.alertSendFailed,
    });
    service.start();
    const recorder = createPresenceRecorder({ store, bus, logger: silentLogger() });
    recorder.status('m-1', available(1), 'push', new Date());
    recorder.gone('m-1', 'connection-lost', 'server', new Date());
    service.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(
      await sample(metrics, 'gridpresence_alerts_total', { kind: 'decoupled', delivery: 'sent' }),
    ).toBe(1);
    expect(
      await sample(metrics, 'gridpresence_alert_send_failures_total', { channel: 'xmpp' }),
    ).toBe(1);
  });

  it('data items by kind and result, and the outbox backlog (data-recorder hooks)', async () => {
    createMeterRegistry({ db }).addMany([
      { id: 'm-1', domain: DOMAIN },
      { id: 'm-2', domain: DOMAIN },
    ]);
    const recorder = createDataRecorder({
      store: createDataStore({ db }),
      protocolError: () => {},
      logger: silentLogger(),
      backlog,
      onRecorded: metrics.dataItem,
    });
    const reading = (seq: number, items?: number): ReadingItem => ({
      kind: 'reading',
      ts: new Date(Date.UTC(2026, 10, 27, 12, seq)).toISOString(),
      seq,
      values: [{ id: '1-0:1.8.0', value: '1.0', unit: 'kWh' }],
      ...(items === undefined ? {} : { backlog: items }),
    });
    const at = new Date();
    recorder.record('m-1', { item: reading(2, 7) }, at, '');
    // a late reading replayed from the outbox says less about now than the newer one
    recorder.record('m-1', { item: reading(1, 30) }, at, '');
    recorder.record('m-1', { item: reading(1, 30) }, at, ''); // duplicate
    recorder.record('m-2', { item: reading(1, 3) }, at, '');
    recorder.record('m-2', { item: reading(2) }, at, ''); // an older agent: no backlog
    expect(
      await sample(metrics, 'gridpresence_data_items_total', { kind: 'reading', result: 'stored' }),
    ).toBe(4);
    expect(
      await sample(metrics, 'gridpresence_data_items_total', {
        kind: 'reading',
        result: 'duplicate',
      }),
    ).toBe(1);
    expect(await sample(metrics, 'gridpresence_agent_outbox_items')).toBe(10);
    expect(await sample(metrics, 'gridpresence_agent_outbox_items_max')).toBe(7);
    expect(await sample(metrics, 'gridpresence_agent_outbox_backlogged_meters')).toBe(2);
    expect(await sample(metrics, 'gridpresence_agent_outbox_reporting_meters')).toBe(2);
  });

  it('the rest: reconnects, e-mail polls and rejected replies', async () => {
    metrics.xmppReconnected();
    metrics.xmppReconnected();
    metrics.emailPoll('sent');
    metrics.emailPoll('expired');
    metrics.emailReplyRejected('forged');
    expect(await sample(metrics, 'gridpresence_xmpp_reconnects_total')).toBe(2);
    expect(await sample(metrics, 'gridpresence_email_polls_total', { outcome: 'sent' })).toBe(1);
    expect(await sample(metrics, 'gridpresence_email_polls_total', { outcome: 'expired' })).toBe(1);
    expect(await sample(metrics, 'gridpresence_email_polls_total', { outcome: 'answered' })).toBe(
      0,
    );
    expect(
      await sample(metrics, 'gridpresence_email_replies_rejected_total', { reason: 'forged' }),
    ).toBe(1);
  });
});

describe('GET /metrics', () => {
  let app: FastifyInstance;

  beforeEach(async () => {
    app = Fastify();
    installErrorHandlers(app);
    registerMetricsRoute(app, { metrics });
    app.get<{ Params: { id: string } }>('/api/meters/:id', (request) => ({
      id: request.params.id,
    }));
    app.get('/api/events', (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      reply.raw.end('retry: 3000\n\n');
    });
    await app.ready();
  });
  afterEach(() => app.close());

  it('answers the text exposition format 0.0.4', async () => {
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(parseExposition(res.body).get('gridpresence_protocol_errors_total{}')).toBe(0);
  });

  it('times requests by method, route pattern and status code; unmatched URLs share a series', async () => {
    await app.inject('/api/meters/m-1');
    await app.inject('/api/meters/m-2');
    await app.inject('/no/such/path/1');
    await app.inject('/no/such/path/2');
    const count = (route: string, status: string) =>
      sample(metrics, 'gridpresence_http_request_duration_seconds_count', {
        method: 'GET',
        route,
        status_code: status,
      });
    expect(await count('/api/meters/:id', '200')).toBe(2);
    expect(await count('unmatched', '404')).toBe(2);
    // an event stream lasts as long as its client: not a request duration
    await app.inject('/api/events');
    expect(await count('/api/events', '200')).toBeUndefined();
  });
});
