import type { FastifyInstance } from 'fastify';
import type { AlertStore } from '../alerts/alert-store.js';
import { principalOf } from '../auth/principal.js';
import { sendError } from './api-errors.js';
import { dateTimeSchema, meterIdSchema } from './schemas.js';

// Alerts over HTTP (docs/liveness.md): the list, newest first (`open=true` for those an operator
// still has to see, including the ones the rate limit held back), and acknowledgement, recorded
// as by the signed-in user (docs/http-auth.md): who acknowledged is not the caller's word.

export const ALERTS_LIMIT = { default: 100, max: 1000 };

interface AlertsQuery {
  open?: boolean;
  meter?: string;
  since?: string;
  limit: number;
}

export function registerAlertsRoutes(
  app: FastifyInstance,
  { store }: { store: Pick<AlertStore, 'list' | 'ack'> },
): void {
  app.get<{ Querystring: AlertsQuery }>(
    '/api/alerts',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            open: { type: 'boolean' },
            meter: meterIdSchema,
            since: dateTimeSchema,
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: ALERTS_LIMIT.max,
              default: ALERTS_LIMIT.default,
            },
          },
        },
      },
    },
    (request, reply) => {
      const { open, meter, since, limit } = request.query;
      let sinceIso: string | undefined;
      if (since !== undefined) {
        const instant = Date.parse(since);
        if (Number.isNaN(instant)) {
          return sendError(
            reply,
            400,
            'bad-request',
            "querystring parameter 'since' is not a valid RFC 3339 date-time",
          );
        }
        // raised_at is stored as toISOString() UTC, so bounds compare as text.
        sinceIso = new Date(instant).toISOString();
      }
      return {
        alerts: store.list({
          limit,
          ...(open === true && { open }),
          ...(meter !== undefined && { meterId: meter }),
          ...(sinceIso !== undefined && { since: sinceIso }),
        }),
      };
    },
  );

  app.post<{ Params: { id: number } }>(
    '/api/alerts/:id/ack',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'integer', minimum: 1 } },
        },
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const by = principalOf(request).username;
      const result = store.ack(id, by, new Date().toISOString());
      if (result.outcome === 'unknown') {
        return sendError(reply, 404, 'alert-unknown', `no alert ${id}`);
      }
      if (result.outcome === 'already-acked') {
        const { ackedBy, ackedAt } = result.alert;
        return sendError(
          reply,
          409,
          'alert-acked',
          `alert ${id} was already acknowledged by ${ackedBy} at ${ackedAt}`,
        );
      }
      return result.alert;
    },
  );
}
