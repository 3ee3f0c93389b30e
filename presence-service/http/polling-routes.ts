import type { FastifyInstance } from 'fastify';
import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import type { PollScheduler } from '../polling/poll-scheduler.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import type { PollStore } from '../store/poll-store.js';
import { sendError } from './api-errors.js';
import { meterIdSchema } from './schemas.js';

// Polling schedules over HTTP (docs/liveness.md "Polling"): each schedule with its next firing
// and last run, a schedule's recent runs, a run started by hand (202: it runs on, its record is
// under /runs), and the XEP-0012 answer last stored for a meter.

export const RUNS_LIMIT = { default: 20, max: 1000 };

export interface PollingRoutesDeps {
  scheduler: Pick<PollScheduler, 'describe' | 'startNow'>;
  pollStore: Pick<PollStore, 'lastRun' | 'recentRuns' | 'lastActivity'>;
  registry: Pick<MeterRegistry, 'get'>;
}

/** Schedule names follow the meter id pattern (config.ts pollScheduleSchema). */
const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: meterIdSchema },
} as const;

const meterParams = {
  type: 'object',
  required: ['id'],
  properties: { id: meterIdSchema },
} as const;

export function registerPollingRoutes(app: FastifyInstance, deps: PollingRoutesDeps): void {
  const { scheduler, pollStore, registry } = deps;
  const isConfigured = (name: string) => scheduler.describe().some((s) => s.name === name);

  app.get('/api/polls', () => ({
    schedules: scheduler.describe().map((schedule) => ({
      ...schedule,
      lastRun: pollStore.lastRun(schedule.name) ?? null,
    })),
  }));

  app.get<{ Params: { name: string }; Querystring: { limit: number } }>(
    '/api/polls/:name/runs',
    {
      schema: {
        params: nameParams,
        querystring: {
          type: 'object',
          properties: {
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: RUNS_LIMIT.max,
              default: RUNS_LIMIT.default,
            },
          },
        },
      },
    },
    (request, reply) => {
      const { name } = request.params;
      const runs = pollStore.recentRuns(name, request.query.limit);
      // A schedule removed from the config keeps its recorded runs readable.
      if (runs.length === 0 && !isConfigured(name)) {
        return sendError(reply, 404, 'schedule-unknown', unknownSchedule(name));
      }
      return { schedule: name, runs };
    },
  );

  app.post<{ Params: { name: string } }>(
    '/api/polls/:name/run',
    { schema: { params: nameParams } },
    (request, reply) => {
      const { name } = request.params;
      try {
        const run = scheduler.startNow(name);
        // The run goes on after the answer; its record shows the counts when it has finished.
        run.done.catch((error: Error) => request.log.error({ err: error }, 'poll run by hand'));
        reply.code(202).header('location', `/api/polls/${name}/runs`);
        return { runId: run.runId, schedule: name, meters: run.meters };
      } catch (error) {
        if (!(error instanceof GridpresenceError)) throw error;
        if (error.code === ERROR_CODES.SCHEDULE_UNKNOWN) {
          return sendError(reply, 404, 'schedule-unknown', unknownSchedule(name));
        }
        return sendError(reply, 409, 'schedule-busy', error.message);
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/meters/:id/last-activity',
    { schema: { params: meterParams } },
    (request, reply) => {
      const { id } = request.params;
      if (!registry.get(id)) {
        return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      }
      // Null until a last-activity poll has had an answer for this meter (XEP-0012).
      return { meterId: id, lastActivity: pollStore.lastActivity(id) ?? null };
    },
  );
}

function unknownSchedule(name: string): string {
  return `no polling schedule '${name}'`;
}
