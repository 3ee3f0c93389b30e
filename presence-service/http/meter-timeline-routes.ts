import type { FastifyInstance } from 'fastify';
import type { TimelineQueries } from '../store/timeline-queries.js';
import { sendError } from './api-errors.js';
import { dateTimeSchema, meterIdSchema } from './schemas.js';

// One meter's states over time, for the dashboard's meter page (docs/dashboard.md):
// GET /api/meters/:id/timeline, the segments of a window (each state with its reason, start and
// end), and GET /api/meters/:id/availability, the share of each UTC day the meter was available.

export const METER_TIMELINE_LIMITS = { maxHours: 24 * 90, maxDays: 90 };

const params = {
  type: 'object',
  required: ['id'],
  properties: { id: meterIdSchema },
} as const;

interface TimelineQuery {
  since?: string;
  until?: string;
  hours: number;
}

export interface MeterTimelineRoutesDeps {
  timeline: Pick<TimelineQueries, 'meter' | 'availability'>;
  now?: () => Date;
}

export function registerMeterTimelineRoutes(
  app: FastifyInstance,
  { timeline, now = () => new Date() }: MeterTimelineRoutesDeps,
): void {
  app.get<{ Params: { id: string }; Querystring: TimelineQuery }>(
    '/api/meters/:id/timeline',
    {
      schema: {
        tags: ['meters'],
        summary: "A meter's states as segments of a window (default: the last 24 h)",
        params,
        querystring: {
          type: 'object',
          properties: {
            since: dateTimeSchema,
            until: dateTimeSchema,
            hours: {
              type: 'integer',
              minimum: 1,
              maximum: METER_TIMELINE_LIMITS.maxHours,
              default: 24,
            },
          },
        },
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const { since, until, hours } = request.query;
      const bounds: { since?: number; until?: number } = {};
      for (const [key, value] of [
        ['since', since],
        ['until', until],
      ] as const) {
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
        bounds[key] = instant;
      }
      const to = bounds.until ?? now().getTime();
      const from = bounds.since ?? to - hours * 3_600_000;
      if (from >= to) {
        return sendError(
          reply,
          400,
          'bad-request',
          "querystring parameter 'until' is not after 'since'",
        );
      }
      if (to - from > METER_TIMELINE_LIMITS.maxHours * 3_600_000) {
        return sendError(
          reply,
          400,
          'bad-request',
          `the window is longer than ${METER_TIMELINE_LIMITS.maxHours} hours`,
        );
      }
      const result = timeline.meter(id, { from: new Date(from), to: new Date(to) });
      if (!result) return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      return result;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { days: number } }>(
    '/api/meters/:id/availability',
    {
      schema: {
        tags: ['meters'],
        summary: 'Per UTC day, the share of time the meter was available, active or restricted',
        params,
        querystring: {
          type: 'object',
          properties: {
            days: {
              type: 'integer',
              minimum: 1,
              maximum: METER_TIMELINE_LIMITS.maxDays,
              default: 7,
            },
          },
        },
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const days = timeline.availability(id, { days: request.query.days, now: now() });
      if (!days) return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      return { meterId: id, upStates: ['available', 'active', 'restricted'], days };
    },
  );
}
