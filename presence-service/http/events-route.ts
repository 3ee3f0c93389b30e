import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ChangeBus } from '../presence/change-bus.js';
import type { PresenceStore, RecordedChange } from '../store/presence-store.js';
import { sendError } from './api-errors.js';
import { changeView } from './meter-view.js';

// GET /api/events: every recorded state change as a Server-Sent Event (WHATWG HTML §9.2),
// `id` = the history id, so a client that reconnects with Last-Event-ID misses nothing that is
// still within the replay bound.

export interface EventStreamOptions {
  /** Comment line sent this often so proxies do not cut an idle stream. */
  keepAliveMs?: number;
  /** At most this many changes are replayed on resume. */
  replayLimit?: number;
  /** A client that lets this much pile up unread is cut off; it resumes with Last-Event-ID. */
  maxBufferedBytes?: number;
}

export const EVENT_STREAM_DEFAULTS: Required<EventStreamOptions> = {
  keepAliveMs: 15_000,
  replayLimit: 10_000,
  maxBufferedBytes: 4 * 1024 * 1024,
};

/** Tells EventSource how long to wait before reconnecting (WHATWG HTML §9.2.4 `retry`). */
const RETRY_MS = 3000;

export function registerEventsRoute(
  app: FastifyInstance,
  {
    store,
    bus,
    options = {},
  }: { store: PresenceStore; bus: ChangeBus; options?: EventStreamOptions },
): void {
  const { keepAliveMs, replayLimit, maxBufferedBytes } = { ...EVENT_STREAM_DEFAULTS, ...options };
  const open = new Set<ServerResponse>();

  // Hijacked responses are invisible to Fastify, and the HTTP server would wait for them for
  // ever on close; end them first (STYLE §8).
  app.addHook('preClose', (done) => {
    for (const res of open) res.end();
    done();
  });

  app.get<{ Querystring: { lastEventId?: number } }>(
    '/api/events',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { lastEventId: { type: 'integer', minimum: 0 } },
        },
      },
    },
    (request, reply) => {
      // The header wins: EventSource sends it on reconnect while the URL keeps its original
      // query, which would otherwise rewind the client to where it first started.
      let after = request.query.lastEventId;
      const header = request.headers['last-event-id'];
      if (typeof header === 'string' && header.trim() !== '') {
        if (!/^\d+$/.test(header.trim())) {
          return sendError(
            reply,
            400,
            'bad-request',
            "header 'Last-Event-ID' must be a history id (a non-negative integer)",
          );
        }
        after = Number(header.trim());
      }

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
        // nginx buffers proxied responses unless told not to; events must arrive as they happen.
        'X-Accel-Buffering': 'no',
      });
      res.flushHeaders();
      open.add(res);
      request.log.debug({ after }, 'event stream opened');

      let lastSentId = after ?? 0;
      // The replay is already bounded by replayLimit; it gets its own allowance so a long replay
      // cannot cut the client off at once (it would reconnect and ask for the same replay).
      let allowance = maxBufferedBytes;
      const write = (chunk: string): void => {
        if (res.writableEnded || res.destroyed) return;
        res.write(chunk);
        // STYLE §9: a reader that does not keep up must not make us buffer without bound.
        if (res.writableLength > allowance) {
          request.log.warn({ buffered: res.writableLength }, 'event stream too slow; closing it');
          res.destroy();
        }
      };
      const send = (change: RecordedChange): void => {
        if (change.id <= lastSentId) return;
        lastSentId = change.id;
        write(formatEvent(change));
      };

      // Subscribing and replaying run in the same tick, and the bus and the store are
      // synchronous, so no change can fall between the replay and the live stream.
      const unsubscribe = bus.subscribe(send);
      let head = `retry: ${RETRY_MS}\n\n`;
      if (after !== undefined) {
        const missed = store.changesAfter(after, replayLimit + 1);
        const replay = missed.slice(0, replayLimit);
        head += replay.map(formatEvent).join('');
        lastSentId = replay.at(-1)?.id ?? lastSentId;
        if (missed.length > replayLimit) {
          // More was missed than we replay: tell the client to reload the snapshot
          // (GET /api/meters) rather than let it believe it is up to date.
          head += `event: resync\ndata: ${JSON.stringify({ reason: 'replay-limit', replayed: replayLimit })}\n\n`;
        }
      }
      allowance += Buffer.byteLength(head);
      write(head);

      const keepAlive = setInterval(() => write(': keep-alive\n\n'), keepAliveMs);
      res.on('close', () => {
        unsubscribe();
        clearInterval(keepAlive);
        open.delete(res);
        request.log.debug('event stream closed');
      });
    },
  );
}

/** One SSE event: `id`, `event: state`, one `data` line of JSON (JSON has no raw newlines). */
export function formatEvent(change: RecordedChange): string {
  return `id: ${change.id}\nevent: state\ndata: ${JSON.stringify(changeView(change))}\n\n`;
}
