import { get, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessControl } from '../../presence-service/auth/access-control.js';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import { type ChangeBus, createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  type PresenceStore,
  type RecordedChange,
} from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';
import { createTestAuth } from './helpers/auth-fixture.js';

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads an SSE response incrementally; `until` waits for a condition on what has arrived. */
function sseReader(response: Response) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const events = (): SseEvent[] =>
    text
      .split('\n\n')
      .slice(0, -1)
      .map((block) => {
        const event: SseEvent = {};
        for (const line of block.split('\n')) {
          const match = /^(id|event|data): (.*)$/.exec(line);
          if (match) event[match[1] as keyof SseEvent] = match[2];
        }
        return event;
      })
      .filter((e) => e.event !== undefined);
  return {
    events,
    text: () => text,
    cancel: () => reader.cancel(),
    async until(done: () => boolean, timeoutMs = 3000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out; received:\n${text}`);
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error(`stream ended; received:\n${text}`);
        text += decoder.decode(value, { stream: true });
      }
    },
  };
}

const sampleChange: RecordedChange = {
  id: 0,
  meterId: 'm-1',
  prevState: 'available',
  state: 'restricted',
  reasonCode: 'load-limit',
  reasonText: null,
  seq: 1,
  since: null,
  kind: null,
  receivedAt: '2026-11-27T14:00:00.000Z',
  source: 'push',
  gap: 0,
};

describe('GET /api/events (SSE)', () => {
  let db: Database;
  let store: PresenceStore;
  let bus: ChangeBus;
  let app: FastifyInstance;
  let base: string;
  let auth: AccessControl;
  let viewer: { authorization: string };
  const aborts: AbortController[] = [];

  beforeEach(async () => {
    db = openDatabase(':memory:');
    store = createPresenceStore({ db });
    bus = createChangeBus();
    const test = createTestAuth(db);
    auth = test.auth;
    viewer = test.as('viewer');
    app = buildHttpApi({
      auth,
      registry: createMeterRegistry({ db }),
      store,
      bus,
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
      events: { keepAliveMs: 50, replayLimit: 3 },
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterEach(async () => {
    for (const abort of aborts.splice(0)) abort.abort();
    await app.close();
    db.close();
  });

  function open(path: string, headers: Record<string, string> = {}) {
    const abort = new AbortController();
    aborts.push(abort);
    return fetch(`${base}${path}`, {
      headers: { ...viewer, ...headers },
      signal: abort.signal,
    }).then((res) => ({
      res,
      abort,
      sse: sseReader(res),
    }));
  }

  /** What the presence path does: record, then publish. */
  function recordAndPublish(meterId: string, seq: number): RecordedChange {
    const change = store.record({
      meterId,
      prevState: null,
      state: seq % 2 === 0 ? 'restricted' : 'available',
      reasonCode: seq % 2 === 0 ? 'load-limit' : null,
      reasonText: null,
      seq,
      since: '2026-11-27T14:00:00Z',
      kind: 'revenue-meter',
      receivedAt: new Date().toISOString(),
      source: 'push',
      gap: 0,
    });
    bus.publish(change);
    return change;
  }

  it('streams published changes with id, event and JSON data', async () => {
    const { res, sse } = await open('/api/events');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    await expect.poll(() => bus.listenerCount()).toBe(1);

    const change = recordAndPublish('m-1', 2);
    await sse.until(() => sse.events().length >= 1);
    const [event] = sse.events();
    expect(event?.id).toBe(String(change.id));
    expect(event?.event).toBe('state');
    expect(JSON.parse(event?.data ?? '')).toMatchObject({
      id: change.id,
      meterId: 'm-1',
      state: 'restricted',
      reason: { code: 'load-limit', text: null },
      seq: 2,
      source: 'push',
      gap: 0,
    });
  });

  it('replays what came after Last-Event-ID, then continues live', async () => {
    const first = recordAndPublish('m-1', 1);
    const second = recordAndPublish('m-2', 1);
    const third = recordAndPublish('m-1', 2);

    const { sse } = await open('/api/events', { 'Last-Event-ID': String(first.id) });
    await sse.until(() => sse.events().length >= 2);
    await expect.poll(() => bus.listenerCount()).toBe(1);
    const fourth = recordAndPublish('m-2', 2);
    await sse.until(() => sse.events().length >= 3);
    expect(sse.events().map((e) => Number(e.id))).toEqual([second.id, third.id, fourth.id]);
  });

  it('takes ?lastEventId too, but the header wins (EventSource reconnects keep the URL)', async () => {
    const first = recordAndPublish('m-1', 1);
    const second = recordAndPublish('m-1', 2);
    const byQuery = await open(`/api/events?lastEventId=${first.id}`);
    await byQuery.sse.until(() => byQuery.sse.events().length >= 1);
    expect(byQuery.sse.events().map((e) => Number(e.id))).toEqual([second.id]);

    const both = await open(`/api/events?lastEventId=0`, { 'Last-Event-ID': String(second.id) });
    const third = recordAndPublish('m-1', 3);
    await both.sse.until(() => both.sse.events().length >= 1);
    expect(both.sse.events().map((e) => Number(e.id))).toEqual([third.id]);
  });

  it('bounds the replay and asks the client to resync', async () => {
    for (let seq = 1; seq <= 5; seq++) recordAndPublish('m-1', seq);
    const { sse } = await open('/api/events?lastEventId=0');
    await sse.until(() => sse.events().some((e) => e.event === 'resync'));
    const events = sse.events();
    expect(events.filter((e) => e.event === 'state')).toHaveLength(3);
    expect(events.at(-1)?.event).toBe('resync');
  });

  it('sends keep-alive comments', async () => {
    const { sse } = await open('/api/events');
    await sse.until(() => sse.text().includes(': keep-alive\n\n'));
  });

  it('unsubscribes when the client goes away', async () => {
    // node:http rather than fetch: undici opens a spare connection when a body is cancelled,
    // which the server then waits for on close (Node counts a connection without a request as
    // busy), and that would only slow this test down.
    const request = get(`${base}/api/events`, { headers: viewer });
    await new Promise<IncomingMessage>((resolve) => request.on('response', resolve));
    await expect.poll(() => bus.listenerCount()).toBe(1);
    request.destroy();
    await expect.poll(() => bus.listenerCount()).toBe(0);
  });

  it('cuts off a client that stops reading instead of buffering without bound', async () => {
    const slowApp = buildHttpApi({
      auth,
      registry: createMeterRegistry({ db }),
      store,
      bus,
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
      events: { maxBufferedBytes: 64 * 1024 },
    });
    const slowBase = await slowApp.listen({ port: 0, host: '127.0.0.1' });
    const request = get(`${slowBase}/api/events`, { headers: viewer });
    const response = await new Promise<IncomingMessage>((resolve) =>
      request.on('response', resolve),
    );
    response.pause(); // never reads: the kernel buffers fill, then ours
    request.on('error', () => {});
    await expect.poll(() => bus.listenerCount()).toBe(1);
    const reasonText = 'x'.repeat(1000);
    for (let id = 1; id <= 50_000 && bus.listenerCount() > 0; id++) {
      bus.publish({ ...sampleChange, id, reasonText });
      if (id % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await expect.poll(() => bus.listenerCount()).toBe(0);
    request.destroy();
    await slowApp.close();
  });

  it('rejects a malformed Last-Event-ID', async () => {
    const res = await fetch(`${base}/api/events`, {
      headers: { ...viewer, 'Last-Event-ID': 'abc' },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'bad-request' });
  });

  it('lets the server close while a stream is open', async () => {
    const { sse } = await open('/api/events');
    await expect.poll(() => bus.listenerCount()).toBe(1);
    await app.close();
    expect(bus.listenerCount()).toBe(0);
    await expect(sse.until(() => false)).rejects.toThrow(/ended/);
  });
});

describe('change bus (what the event stream listens to)', () => {
  const change = { id: 1, meterId: 'm-1' } as RecordedChange;

  it('fans out synchronously and unsubscribes', () => {
    const bus = createChangeBus();
    const seen: string[] = [];
    const offA = bus.subscribe(() => seen.push('a'));
    bus.subscribe(() => seen.push('b'));
    expect(bus.listenerCount()).toBe(2);
    bus.publish(change);
    expect(seen).toEqual(['a', 'b']);
    offA();
    offA();
    bus.publish(change);
    expect(seen).toEqual(['a', 'b', 'b']);
    expect(bus.listenerCount()).toBe(1);
  });

  it('keeps delivering when a listener throws, and reports it', () => {
    const errors: unknown[] = [];
    const bus = createChangeBus({ onListenerError: (error) => errors.push(error) });
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('socket gone');
    });
    bus.subscribe((c) => seen.push(c.id));
    expect(() => bus.publish(change)).not.toThrow();
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(1);
  });

  it('lets a listener unsubscribe while being called', () => {
    const bus = createChangeBus();
    const seen: string[] = [];
    const off = bus.subscribe(() => {
      seen.push('once');
      off();
    });
    bus.subscribe(() => seen.push('always'));
    bus.publish(change);
    bus.publish(change);
    expect(seen).toEqual(['once', 'always', 'always']);
  });
});
