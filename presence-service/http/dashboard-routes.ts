import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CommandRunner } from '../commands/command-client.js';
import type { Database } from '../store/database.js';
import { createGroupJobQueries, type GroupJobQueries } from '../store/group-job-queries.js';
import type { JobStore } from '../store/job-store.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import { createMeterTableQueries, type MeterTableQueries } from '../store/meter-table-queries.js';
import type { PresenceStore } from '../store/presence-store.js';
import { createTimelineQueries, type TimelineQueries } from '../store/timeline-queries.js';
import { sendError } from './api-errors.js';
import { registerGroupJobsRoutes } from './group-jobs-routes.js';
import { type HttpCaller, registerMeterCommandsRoutes } from './meter-commands-routes.js';
import { registerMeterTableRoutes } from './meter-table-routes.js';
import { registerMeterTimelineRoutes } from './meter-timeline-routes.js';
import { registerStatsTimelineRoutes } from './stats-timeline-routes.js';

// The operations dashboard (docs/dashboard.md), served by the service itself: the page at `/`,
// its compiled modules, stylesheet and uPlot under `/assets/<build id>/` (immutable: a new build
// has a new id), and the API routes only the dashboard needed. Public paths (no /api/): the
// page signs in through /api/session like any client. No inline script or style anywhere, so
// the Content-Security-Policy allows nothing but this origin's files.

export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** What the dashboard's API routes read and run; `createDashboardQueries` makes the queries. */
export interface DashboardDeps {
  registry: MeterRegistry;
  store: PresenceStore;
  jobs: Pick<JobStore, 'get'>;
  queries: DashboardQueries;
  /** The service's command client (main.ts `runCommand`). */
  run: CommandRunner;
  /** The signed-in user of a request (the HTTP access control's), null for nobody. */
  callerOf: (request: FastifyRequest) => HttpCaller | null;
  /** How long a meter has to answer a command (the service's `groups.timeoutMs`). */
  commandTimeoutMs?: number;
  /** The built files (index.html, assets/); default: dist/presence-service/dashboard/www. */
  root?: string;
}

export interface DashboardQueries {
  timeline: TimelineQueries;
  table: MeterTableQueries;
  groupJobs: GroupJobQueries;
}

export function createDashboardQueries(db: Database): DashboardQueries {
  return {
    timeline: createTimelineQueries({ db }),
    table: createMeterTableQueries({ db }),
    groupJobs: createGroupJobQueries({ db }),
  };
}

/** The dashboard's page and files, and its API routes. */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  registerStatsTimelineRoutes(app, { timeline: deps.queries.timeline });
  registerMeterTimelineRoutes(app, { timeline: deps.queries.timeline });
  registerMeterTableRoutes(app, {
    table: deps.queries.table,
    registry: deps.registry,
    store: deps.store,
  });
  registerGroupJobsRoutes(app, { queries: deps.queries.groupJobs, jobs: deps.jobs });
  registerMeterCommandsRoutes(app, {
    registry: deps.registry,
    run: deps.run,
    callerOf: deps.callerOf,
    ...(deps.commandTimeoutMs !== undefined && { timeoutMs: deps.commandTimeoutMs }),
  });
  registerDashboardFiles(app, deps.root ?? defaultRoot());
}

/** `/` (index.html) and `/assets/<build id>/…`, with the security headers on every answer. */
export function registerDashboardFiles(app: FastifyInstance, root: string | undefined): void {
  // Encapsulated: the headers hook and the static routes stay in this scope.
  app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.headers(DASHBOARD_HEADERS);
      return payload;
    });
    const indexFile = root && join(root, 'index.html');
    if (!root || !indexFile || !existsSync(indexFile)) {
      scope.log.warn({ root }, 'dashboard not built; `npm run build` builds it');
      scope.get('/', (_request, reply) =>
        sendError(reply, 503, 'dashboard-missing', 'the dashboard is not built: run npm run build'),
      );
      return;
    }
    const assets = join(root, 'assets');
    const buildId = hashTree(assets);
    const base = `/assets/${buildId}`;
    const index = readFileSync(indexFile, 'utf8').replaceAll('%ASSETS%', base);
    const sendIndex = (_request: FastifyRequest, reply: FastifyReply) => {
      // Always revalidated: it names the build's assets, which are cached for good.
      reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(index);
    };
    scope.get('/', { schema: { hide: true } }, sendIndex);
    scope.get('/index.html', { schema: { hide: true } }, sendIndex);
    await scope.register(fastifyStatic, {
      root: assets,
      prefix: `${base}/`,
      // Routes for the files that exist at start, nothing else: no file system walk per request.
      wildcard: false,
      decorateReply: false,
      index: false,
      maxAge: '365d',
      immutable: true,
    });
  });
}

/** A short hash of every file's path and content: the build id in the asset URLs. */
export function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        hash.update(relative(dir, path));
        hash.update(readFileSync(path));
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return hash.digest('hex').slice(0, 12);
}

/** dist/presence-service/dashboard/www, whether this module runs from dist/ or from source. */
function defaultRoot(): string | undefined {
  const candidates = [
    // Built: dist/presence-service/http/ → dist/presence-service/dashboard/www.
    fileURLToPath(new URL('../dashboard/www/', import.meta.url)),
    // From source (tests): presence-service/http/ → dist/presence-service/dashboard/www.
    fileURLToPath(new URL('../../dist/presence-service/dashboard/www/', import.meta.url)),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}
