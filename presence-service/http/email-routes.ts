import type { FastifyInstance } from 'fastify';
import type { EmailPoller } from '../email/email-poller.js';
import type { EmailPollRecord } from '../store/email-poll-store.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import { sendError } from './api-errors.js';
import { meterIdSchema } from './schemas.js';

// E-mail polling over HTTP (docs/liveness.md): send a meter a poll now, and list its recent polls
// with their outcome. Registered only when the service has an `email` section, so without it
// these paths are the API's ordinary 404. Poll tokens are never shown: a pending poll's token is
// what a forged reply would need.

export const EMAIL_POLLS_LIMIT = { default: 20, max: 500 };

export interface EmailRoutesDeps {
  registry: Pick<MeterRegistry, 'get'>;
  poller: Pick<EmailPoller, 'poll' | 'recentPolls'>;
}

export interface EmailPollView {
  messageId: string;
  address: string;
  sentAt: string;
  expiresAt: string;
  outcome: EmailPollRecord['outcome'];
  answeredAt: string | null;
  detail: string | null;
}

const params = {
  type: 'object',
  required: ['id'],
  properties: { id: meterIdSchema },
} as const;

export function registerEmailRoutes(
  app: FastifyInstance,
  { registry, poller }: EmailRoutesDeps,
): void {
  app.post<{ Params: { id: string } }>(
    '/api/meters/:id/email-poll',
    { schema: { params } },
    async (request, reply) => {
      const { id } = request.params;
      const meter = registry.get(id);
      if (!meter) return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      const noAddress = () =>
        sendError(
          reply,
          422,
          'meter-no-email',
          `meter '${id}' has no e-mail address; register one (the meters table's email column) to poll it by e-mail`,
        );
      if (!meter.email) return noAddress();
      const result = await poller.poll(id);
      if (result === 'no-address') return noAddress(); // removed or changed meanwhile
      if (result === 'failed') {
        return sendError(
          reply,
          502,
          'email-send-failed',
          `the poll to meter '${id}' was not accepted by the outgoing mail server; see the service log`,
        );
      }
      // Accepted for delivery; the answer comes by mail, later: its outcome is in the list.
      reply.code(202).header('location', `/api/meters/${id}/email-polls`);
      return { meterId: id, result: 'sent' };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number } }>(
    '/api/meters/:id/email-polls',
    {
      schema: {
        params,
        querystring: {
          type: 'object',
          properties: {
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: EMAIL_POLLS_LIMIT.max,
              default: EMAIL_POLLS_LIMIT.default,
            },
          },
        },
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const polls = poller.recentPolls(id, request.query.limit);
      // A removed meter's polls stay readable; 404 only for ids never heard of.
      if (polls.length === 0 && !registry.get(id)) {
        return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      }
      return { meterId: id, polls: polls.map(pollView) };
    },
  );
}

function pollView(poll: EmailPollRecord): EmailPollView {
  return {
    messageId: poll.messageId,
    address: poll.address,
    sentAt: poll.sentAt,
    expiresAt: poll.expiresAt,
    outcome: poll.outcome,
    answeredAt: poll.answeredAt,
    detail: poll.detail,
  };
}
