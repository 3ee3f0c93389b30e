import type { FastifyInstance } from 'fastify';
import type { AlertStore } from '../alerts/alert-store.js';
import { sendError } from './api-errors.js';
import { dateTimeSchema, meterIdSchema } from './schemas.js';

// Alerts over HTTP (docs/liveness.md): the list, newest first (`open=true` for those an operator
// still has to see, including the ones the rate limit held back), and acknowledgement. Trusted
// like the group routes: the API listens on loopback until HTTP authentication lands, so `by` is
// the caller's word; without it the caller's address is recorded.

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

  app.post<{ Params: { id: number }; Body: { by?: string } }>(
    '/api/alerts/:id/ack',
    {
      // The body is optional: a bare POST acknowledges as the caller's address. Fastify would
      // otherwise validate the missing body against the object schema and answer 400.
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
      schema: {
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'integer', minimum: 1 } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { by: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const by = request.body.by ?? `http:${request.ip}`;
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
