import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type AdhocCommandName,
  COMMAND_ROLES,
  commandNode,
  type RawArgs,
  type Role,
  roleAtLeast,
} from '../../src/protocol/commands.js';
import type { CommandRunner } from '../commands/command-client.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import { sendError } from './api-errors.js';
import { commandBodySchema, meterIdSchema } from './schemas.js';

// POST /api/meters/:id/commands: one PROTOCOL §4 command on one meter, through the service's
// command client (a one-shot ad-hoc submission, as group commands send), answered with the
// meter's result or its error. The meters trust the service as an operator, so the caller's
// role is checked here against the command's (PROTOCOL §2), beside the HTTP access control that
// already keeps viewers off every non-GET route. The meter's audit trail names the service as
// the sender; who asked is in the service's log.

export const METER_COMMAND_DEFAULTS = { timeoutMs: 10_000, maxInFlight: 16 };

/** Who is asking, as the HTTP access control knows them (its `request.principal`). */
export interface HttpCaller {
  username: string;
  role: Role;
}

export interface MeterCommandsRoutesDeps {
  registry: Pick<MeterRegistry, 'get'>;
  run: CommandRunner;
  callerOf: (request: FastifyRequest) => HttpCaller | null;
  /** How long the meter has to answer (the service's `groups.timeoutMs`). */
  timeoutMs?: number;
  /** Commands waiting for a meter at once, over all callers (STYLE §9). */
  maxInFlight?: number;
}

interface CommandBody {
  command: AdhocCommandName;
  args: RawArgs;
}

export function registerMeterCommandsRoutes(
  app: FastifyInstance,
  deps: MeterCommandsRoutesDeps,
): void {
  const { registry, run, callerOf } = deps;
  const timeoutMs = deps.timeoutMs ?? METER_COMMAND_DEFAULTS.timeoutMs;
  const maxInFlight = deps.maxInFlight ?? METER_COMMAND_DEFAULTS.maxInFlight;
  let inFlight = 0;

  app.post<{ Params: { id: string }; Body: CommandBody }>(
    '/api/meters/:id/commands',
    {
      schema: {
        tags: ['meters'],
        summary: 'Runs one PROTOCOL §4 command on one meter and answers its result',
        params: { type: 'object', required: ['id'], properties: { id: meterIdSchema } },
        body: commandBodySchema,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { command, args } = request.body;
      const caller = callerOf(request);
      const needed = COMMAND_ROLES[command];
      if (!caller) return sendError(reply, 401, 'unauthenticated', 'sign in to send commands');
      if (!roleAtLeast(caller.role, needed)) {
        return sendError(reply, 403, 'forbidden', `${command} needs the ${needed} role`);
      }
      if (!registry.get(id)) {
        return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      }
      if (inFlight >= maxInFlight) {
        return sendError(
          reply,
          429,
          'too-many-requests',
          `${inFlight} meter commands are waiting for their meters; send it again shortly`,
        );
      }
      inFlight += 1;
      const started = Date.now();
      let outcome: Awaited<ReturnType<CommandRunner>>;
      try {
        outcome = await run(id, commandNode(command), args, timeoutMs);
      } finally {
        inFlight -= 1;
      }
      const durationMs = Date.now() - started;
      request.log.info(
        { meterId: id, command, by: caller.username, outcome: outcome.kind, durationMs },
        'meter command',
      );
      switch (outcome.kind) {
        case 'ok':
          return {
            meterId: id,
            command,
            outcome: 'ok',
            fields: outcome.fields,
            note: outcome.note,
            durationMs,
          };
        case 'error':
          // The meter refused or failed it (PROTOCOL §4): its condition and text, for people.
          reply.code(422).type('application/json; charset=utf-8');
          return {
            error: {
              code: 'command-failed',
              message: outcome.text
                ? `${outcome.condition}: ${outcome.text}`
                : `the meter answered ${outcome.condition}`,
              condition: outcome.condition,
            },
          };
        case 'offline':
          return sendError(
            reply,
            503,
            'meter-offline',
            `meter '${id}' is offline (the server answered ${outcome.condition})`,
          );
        case 'timeout':
          return sendError(
            reply,
            504,
            'meter-timeout',
            `meter '${id}' did not answer within ${timeoutMs} ms`,
          );
      }
    },
  );
}
