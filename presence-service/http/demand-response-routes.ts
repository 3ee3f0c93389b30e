import type { FastifyInstance } from 'fastify';
import { principalOf } from '../auth/principal.js';
import type { DemandResponseService } from '../power/demand-response-service.js';
import type { DrStore } from '../power/dr-store.js';
import { sendError } from './api-errors.js';
import { meterIdSchema } from './schemas.js';

// Demand response over HTTP (docs/demand-response.md): each rule with its state, the events
// with their decisions, and the operator's door to change a group's limit at run time (an
// operator's, as every PUT: docs/http-auth.md), recorded with the signed-in user's name.

export const EVENTS_LIMIT = { default: 100, max: 1000 };

export interface DemandResponseRoutesDeps {
  service: Pick<DemandResponseService, 'status' | 'setLimit'>;
  store: Pick<DrStore, 'events' | 'event' | 'decisions'>;
}

export function registerDemandResponseRoutes(
  app: FastifyInstance,
  { service, store }: DemandResponseRoutesDeps,
): void {
  app.get('/api/demand-response', () => ({ rules: service.status() }));

  app.get<{ Querystring: { group?: string; limit: number } }>(
    '/api/demand-response/events',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            group: meterIdSchema,
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: EVENTS_LIMIT.max,
              default: EVENTS_LIMIT.default,
            },
          },
        },
      },
    },
    (request) => ({ events: store.events(request.query) }),
  );

  app.get<{ Params: { id: number } }>(
    '/api/demand-response/events/:id',
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
      const event = store.event(request.params.id);
      if (!event) {
        return sendError(
          reply,
          404,
          'event-unknown',
          `no demand-response event ${request.params.id}`,
        );
      }
      return { ...event, decisions: store.decisions(event.id) };
    },
  );

  app.put<{ Params: { group: string }; Body: { limitKw: number } }>(
    '/api/demand-response/rules/:group',
    {
      schema: {
        params: { type: 'object', required: ['group'], properties: { group: meterIdSchema } },
        body: {
          type: 'object',
          required: ['limitKw'],
          additionalProperties: false,
          properties: { limitKw: { type: 'number', exclusiveMinimum: 0, maximum: 1e9 } },
        },
      },
    },
    (request, reply) => {
      const { group } = request.params;
      const rule = service.setLimit(group, request.body.limitKw, principalOf(request).username);
      if (!rule) {
        return sendError(
          reply,
          404,
          'rule-unknown',
          `no demand-response rule for group '${group}'`,
        );
      }
      return rule;
    },
  );
}
