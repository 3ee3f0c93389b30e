import type { FastifyInstance } from 'fastify';
import type { GroupJobQueries } from '../store/group-job-queries.js';
import type { JobRecord, JobStore } from '../store/job-store.js';
import { meterIdSchema } from './schemas.js';

// GET /api/groups/:group/jobs: a group's commands (PROTOCOL §7), newest first, running and past,
// each as GET /api/jobs/:id shows it without the per-meter results. An unknown group simply has
// none (a group exists through its members, and its jobs outlive them).

export const GROUP_JOBS_LIMIT = { default: 20, max: 200 };

export interface GroupJobsRoutesDeps {
  queries: GroupJobQueries;
  jobs: Pick<JobStore, 'get'>;
}

export function registerGroupJobsRoutes(
  app: FastifyInstance,
  { queries, jobs }: GroupJobsRoutesDeps,
): void {
  app.get<{ Params: { group: string }; Querystring: { limit: number; running?: boolean } }>(
    '/api/groups/:group/jobs',
    {
      schema: {
        tags: ['groups'],
        summary: "A group's commands, newest first",
        params: { type: 'object', required: ['group'], properties: { group: meterIdSchema } },
        querystring: {
          type: 'object',
          properties: {
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: GROUP_JOBS_LIMIT.max,
              default: GROUP_JOBS_LIMIT.default,
            },
            running: { type: 'boolean' },
          },
        },
      },
    },
    (request) => {
      const { group } = request.params;
      const ids = queries.jobIds(group, request.query);
      // Pruned between the two reads: left out.
      const list = ids.flatMap((id) => {
        const job = jobs.get(id);
        return job ? [job] : [];
      }) satisfies JobRecord[];
      return { group, jobs: list };
    },
  );
}
