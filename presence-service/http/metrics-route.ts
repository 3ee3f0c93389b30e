import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';

// GET /metrics in the Prometheus text exposition format (version 0.0.4), and the timing of every
// HTTP request for it (docs/metrics.md). Register it on the root instance: the hook then sees the
// requests of every route, whenever they were added; its label is the route's pattern
// (`/api/meters/:id`), so the series stay bounded whatever URLs are asked for.

/** The label of requests that matched no route (404s), so probes of random URLs share one series. */
export const UNMATCHED_ROUTE = 'unmatched';

export function registerMetricsRoute(
  app: FastifyInstance,
  { metrics }: { metrics: Pick<Metrics, 'exposition' | 'contentType' | 'httpRequest'> },
): void {
  app.addHook('onResponse', (request, reply, done) => {
    // An event stream is one response that lasts as long as the client stays: its "duration"
    // would only push the histogram's tail to +Inf.
    const type = reply.raw.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/event-stream')) return done();
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    metrics.httpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics',
        description:
          'The service metrics in the Prometheus text exposition format 0.0.4 (docs/metrics.md).',
        response: {
          200: {
            description: 'The exposition',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const body = await metrics.exposition();
      reply.header('cache-control', 'no-store').type(metrics.contentType);
      return body;
    },
  );
}
