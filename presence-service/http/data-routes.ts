import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DataRange, DataStore } from '../data/data-store.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import { sendError } from './api-errors.js';
import { dateTimeSchema, meterIdSchema } from './schemas.js';

// GET /api/meters/:id/readings, /events and /audit: what each meter reported (PROTOCOL §6 and the
// audit report, docs/protocol.md "Data"). Times are the meter's own `ts`; `since` and `until` are
// inclusive; without `since` the newest `limit` items come. Lists are oldest first.

export const DATA_LIMIT = { default: 1000, max: 10_000 };

interface DataQuery {
  since?: string;
  until?: string;
  limit: number;
}

const dataQuerystring = {
  type: 'object',
  properties: {
    since: dateTimeSchema,
    until: dateTimeSchema,
    limit: { type: 'integer', minimum: 1, maximum: DATA_LIMIT.max, default: DATA_LIMIT.default },
  },
} as const;

const params = {
  type: 'object',
  required: ['id'],
  properties: { id: meterIdSchema },
} as const;

export function registerDataRoutes(
  app: FastifyInstance,
  { registry, data }: { registry: MeterRegistry; data: DataStore },
): void {
  const lists = {
    readings: (id: string, range: DataRange) => data.readings(id, range),
    events: (id: string, range: DataRange) => data.events(id, range),
    audit: (id: string, range: DataRange) => data.audit(id, range),
  } as const;

  for (const [name, list] of Object.entries(lists)) {
    app.get<{ Params: { id: string }; Querystring: DataQuery }>(
      `/api/meters/:id/${name}`,
      { schema: { params, querystring: dataQuerystring } },
      (request, reply) => {
        const { id } = request.params;
        const range = rangeOf(request.query, reply);
        if (!range) return;
        // A removed meter's data stays queryable; 404 only for ids never heard of.
        if (!registry.get(id) && !data.hasData(id)) {
          return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
        }
        return { meterId: id, [name]: list(id, range) };
      },
    );
  }
}

/** Normalises the bounds to toISOString() UTC (how ts is stored), or sends a 400 naming one. */
function rangeOf(query: DataQuery, reply: FastifyReply): DataRange | undefined {
  const range: DataRange = { limit: query.limit };
  for (const key of ['since', 'until'] as const) {
    const value = query[key];
    if (value === undefined) continue;
    const instant = Date.parse(value);
    if (Number.isNaN(instant)) {
      sendError(
        reply,
        400,
        'bad-request',
        `querystring parameter '${key}' is not a valid RFC 3339 date-time`,
      );
      return undefined;
    }
    range[key] = new Date(instant).toISOString();
  }
  if (range.since && range.until && range.since > range.until) {
    sendError(reply, 400, 'bad-request', "querystring parameter 'until' is before 'since'");
    return undefined;
  }
  return range;
}
