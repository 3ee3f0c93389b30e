import type { FastifyInstance } from 'fastify';
import { METER_STATES, type MeterState } from '../../src/protocol/index.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import type { PresenceStore } from '../store/presence-store.js';
import { sendError } from './api-errors.js';
import { changeView, meterView } from './meter-view.js';
import { dateTimeSchema, meterIdSchema } from './schemas.js';

// GET /api/meters, /api/meters/:id and /api/meters/:id/history: the registry joined with what
// the meters last said (PROTOCOL §1), and each meter's recorded changes.

export const LIST_LIMIT = { default: 100, max: 1000 };
export const HISTORY_LIMIT = { default: 1000, max: 10_000 };
/** Protocol errors shown with one meter: enough to diagnose, small enough to read. */
const DETAIL_PROTOCOL_ERRORS = 20;

const meterIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: meterIdSchema },
} as const;

interface ListQuery {
  state?: MeterState;
  group?: string;
  q?: string;
  limit: number;
  offset: number;
}

interface HistoryQuery {
  since?: string;
  until?: string;
  limit: number;
}

export function registerMetersRoutes(
  app: FastifyInstance,
  { registry, store }: { registry: MeterRegistry; store: PresenceStore },
): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/meters',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: [...METER_STATES] },
            group: meterIdSchema,
            q: { type: 'string', minLength: 1, maxLength: 200 },
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: LIST_LIMIT.max,
              default: LIST_LIMIT.default,
            },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
        },
      },
    },
    (request) => {
      const { total, meters } = registry.list(request.query);
      return { total, meters: meters.map(meterView) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/meters/:id',
    { schema: { params: meterIdParams } },
    (request, reply) => {
      const { id } = request.params;
      const meter = registry.get(id);
      if (!meter) return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      const view = meterView({ ...meter, current: store.current(id) ?? null });
      return { ...view, protocolErrors: store.protocolErrors(id, DETAIL_PROTOCOL_ERRORS) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: HistoryQuery }>(
    '/api/meters/:id/history',
    {
      schema: {
        params: meterIdParams,
        querystring: {
          type: 'object',
          properties: {
            since: dateTimeSchema,
            until: dateTimeSchema,
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: HISTORY_LIMIT.max,
              default: HISTORY_LIMIT.default,
            },
          },
        },
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const range: { since?: string; until?: string; limit: number } = {
        limit: request.query.limit,
      };
      for (const key of ['since', 'until'] as const) {
        const value = request.query[key];
        if (value === undefined) continue;
        const instant = Date.parse(value);
        if (Number.isNaN(instant)) {
          return sendError(
            reply,
            400,
            'bad-request',
            `querystring parameter '${key}' is not a valid RFC 3339 date-time`,
          );
        }
        // Stored times are toISOString() UTC, so a normalised bound compares as text.
        range[key] = new Date(instant).toISOString();
      }
      // A removed meter's history stays queryable (the store keeps it); 404 only for ids that
      // were never here at all.
      if (!registry.get(id) && store.history(id, { limit: 1 }).length === 0) {
        return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      }
      return { meterId: id, changes: store.history(id, range).map(changeView) };
    },
  );
}
