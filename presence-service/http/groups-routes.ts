import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import type { AdhocCommandName, RawArgs, Role } from '../../src/protocol/commands.js';
import { principalOf } from '../auth/principal.js';
import { type GroupCommands, mayRun } from '../groups/group-commands.js';
import type { GroupDirectory } from '../store/group-directory.js';
import type { JobStore, ResultOutcome } from '../store/job-store.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import { sendError } from './api-errors.js';
import { meterView } from './meter-view.js';
import { commandBodySchema, meterIdSchema } from './schemas.js';

// PROTOCOL §7 over HTTP: the groups with their members' states, group commands (202: a job
// that runs on), and each job's per-meter results.

export const MEMBERS_LIMIT = { default: 1000, max: 10_000 };
export const RESULTS_LIMIT = { default: 1000, max: 10_000 };

const RESULT_OUTCOMES: readonly ResultOutcome[] = [
  'pending',
  'ok',
  'error',
  'timeout',
  'offline',
  'interrupted',
];

export interface GroupsRoutesDeps {
  registry: Pick<MeterRegistry, 'list'>;
  directory: GroupDirectory;
  commands: GroupCommands;
  jobs: JobStore;
  /**
   * The caller's role (PROTOCOL §2), null for nobody; by default the signed-in principal's
   * (docs/http-auth.md), checked against each command's own role (COMMAND_ROLES).
   */
  roleOf?: (request: FastifyRequest) => Role | null;
}

const PRINCIPAL_ROLE = (request: FastifyRequest): Role | null => request.principal?.role ?? null;

const groupParams = {
  type: 'object',
  required: ['group'],
  properties: { group: meterIdSchema },
} as const;

const pageQuery = (limit: { default: number; max: number }) =>
  ({
    limit: { type: 'integer', minimum: 1, maximum: limit.max, default: limit.default },
    offset: { type: 'integer', minimum: 0, default: 0 },
  }) as const;

interface CommandBody {
  command: AdhocCommandName;
  args: RawArgs;
}

export function registerGroupsRoutes(app: FastifyInstance, deps: GroupsRoutesDeps): void {
  const { registry, directory, commands, jobs } = deps;
  const roleOf = deps.roleOf ?? PRINCIPAL_ROLE;

  app.get('/api/groups', () => ({ groups: directory.list() }));

  app.get<{ Params: { group: string }; Querystring: { limit: number; offset: number } }>(
    '/api/groups/:group',
    {
      schema: {
        params: groupParams,
        querystring: { type: 'object', properties: pageQuery(MEMBERS_LIMIT) },
      },
    },
    (request, reply) => {
      const { group } = request.params;
      const summary = directory.get(group);
      if (!summary) return sendError(reply, 404, 'group-unknown', unknownGroup(group));
      const { meters } = registry.list({ group, ...request.query });
      return { ...summary, members: meters.map(meterView) };
    },
  );

  app.post<{ Params: { group: string }; Body: CommandBody }>(
    '/api/groups/:group/commands',
    {
      schema: {
        params: groupParams,
        body: commandBodySchema,
      },
    },
    (request, reply) => {
      const { group } = request.params;
      const { command, args } = request.body;
      const refusal = mayRun(roleOf(request), command);
      if (refusal) return sendError(reply, 403, 'forbidden', refusal.message);
      try {
        const requestedBy = principalOf(request).username;
        const job = commands.start(group, command, args, requestedBy, 'http');
        reply.code(202).header('location', `/api/jobs/${job.jobId}`);
        return { jobId: job.jobId, members: job.members.length };
      } catch (error) {
        if (!(error instanceof GridpresenceError)) throw error;
        if (error.code === ERROR_CODES.GROUP_UNKNOWN) {
          return sendError(reply, 404, 'group-unknown', unknownGroup(group));
        }
        if (error.code === ERROR_CODES.GROUP_BUSY) {
          return sendError(reply, 429, 'too-many-requests', error.message);
        }
        throw error;
      }
    },
  );

  app.get<{
    Params: { id: number };
    Querystring: { outcome?: ResultOutcome; limit: number; offset: number };
  }>(
    '/api/jobs/:id',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'integer', minimum: 1 } },
        },
        querystring: {
          type: 'object',
          properties: {
            outcome: { type: 'string', enum: [...RESULT_OUTCOMES] },
            ...pageQuery(RESULTS_LIMIT),
          },
        },
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const job = jobs.get(id);
      if (!job) return sendError(reply, 404, 'job-unknown', `no group job ${id}`);
      const { total, results } = jobs.results(id, request.query);
      return { ...job, resultsTotal: total, results };
    },
  );
}

function unknownGroup(group: string): string {
  return `no group '${group}': no meter is in it`;
}
