import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../src/log.js';
import type { AlertStore } from '../alerts/alert-store.js';
import { type AccessControl, registerAccessControl } from '../auth/access-control.js';
import { SESSION_COOKIE } from '../auth/auth-hook.js';
import { accessFor } from '../auth/principal.js';
import type { DataStore } from '../data/data-store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ChangeBus } from '../presence/change-bus.js';
import type { ExportQueries } from '../store/export-queries.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import type { PresenceStore } from '../store/presence-store.js';
import { registerAlertsRoutes } from './alerts-routes.js';
import { installErrorHandlers } from './api-errors.js';
import { registerCsvRoutes } from './csv-routes.js';
import { type DashboardDeps, registerDashboard } from './dashboard-routes.js';
import { registerDataRoutes } from './data-routes.js';
import {
  type DemandResponseRoutesDeps,
  registerDemandResponseRoutes,
} from './demand-response-routes.js';
import { type EmailRoutesDeps, registerEmailRoutes } from './email-routes.js';
import { type EventStreamOptions, registerEventsRoute } from './events-route.js';
import { type GroupsRoutesDeps, registerGroupsRoutes } from './groups-routes.js';
import { type HealthSource, registerHealthRoutes } from './health-route.js';
import { registerMetersRoutes } from './meters-routes.js';
import { registerMetricsRoute } from './metrics-route.js';
import { registerOpenApi } from './openapi.js';
import { type PollingRoutesDeps, registerPollingRoutes } from './polling-routes.js';
import { DebugRequestLogController } from './request-logging.js';

// The presence service's HTTP API, built but not listening: tests drive it with app.inject()
// and main.ts calls listen() (STYLE §7, Fastify "Testing" guide: build vs listen).

export interface HttpApiDeps {
  /**
   * Users, sessions, tokens and the sign-in throttle (docs/http-auth.md). Required: there is no
   * way to build the API without access control.
   */
  auth: AccessControl;
  /** TLS (config `http.tls`) and whether to believe X-Forwarded-* (config `http.trustProxy`). */
  server?: { https?: { cert: Buffer; key: Buffer }; trustProxy?: boolean };
  registry: MeterRegistry;
  store: PresenceStore;
  /** The meters' readings, events and audit entries (PROTOCOL §6); without it, no data routes. */
  data?: DataStore;
  /** PROTOCOL §7 groups, group commands and their jobs; without it, no group routes. */
  groups?: Omit<GroupsRoutesDeps, 'registry'>;
  /** Demand response's rules, events and limits; without it, no demand-response routes. */
  demandResponse?: DemandResponseRoutesDeps;
  /** Alerts to operators (docs/liveness.md); without it, no alert routes. */
  alerts?: { store: AlertStore };
  /** Polling schedules and their runs (docs/liveness.md); without it, no polling routes. */
  polling?: Omit<PollingRoutesDeps, 'registry'>;
  /** E-mail polls (docs/liveness.md); without it (no `email` config), no e-mail routes. */
  email?: EmailRoutesDeps['poller'];
  /** Prometheus metrics at /metrics and request timing (docs/metrics.md). */
  metrics?: Pick<Metrics, 'exposition' | 'contentType' | 'httpRequest'>;
  /** The dashboard (docs/dashboard.md): its page, files and the routes it reads; without it, none. */
  dashboard?: Omit<DashboardDeps, 'registry' | 'store' | 'callerOf'>;
  /** CSV export of history and readings; without it, no CSV routes. */
  exports?: ExportQueries;
  bus: ChangeBus;
  /** The module's child logger (`{ module: 'http' }`), made by the composition root. */
  logger: Logger;
  health: HealthSource;
  /** Event-stream tuning; the defaults suit production, tests shorten the keep-alive. */
  events?: EventStreamOptions;
}

export function buildHttpApi(deps: HttpApiDeps): FastifyInstance {
  const options = {
    // Typed as Fastify's logger interface so the instance is the plain FastifyInstance the
    // route modules take (pino's own Logger type carries generics Fastify does not expect).
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new DebugRequestLogController(),
    // Small bodies only: query strings, and group commands (a form of a few fields).
    bodyLimit: 16 * 1024,
    trustProxy: deps.server?.trustProxy ?? false,
  };
  const https = deps.server?.https;
  // The HTTPS server is an https.Server; the routes only see requests and replies, which are the
  // same for both, so the instance is typed as the plain one they take.
  const app = https
    ? (Fastify({ ...options, https }) as unknown as FastifyInstance)
    : Fastify(options);

  installErrorHandlers(app);
  // The OpenAPI document is generated from the routes as they are added, so it comes first;
  // it learns each route's required role from the same rule the access hook applies.
  registerOpenApi(app, {
    auth: { accessOf: (method, url) => accessFor(method, url, url), sessionCookie: SESSION_COOKIE },
  });
  // Before any route: its hook guards every route registered after it (docs/http-auth.md).
  registerAccessControl(app, deps.auth);
  if (deps.metrics) registerMetricsRoute(app, { metrics: deps.metrics });
  registerMetersRoutes(app, { registry: deps.registry, store: deps.store });
  if (deps.data) registerDataRoutes(app, { registry: deps.registry, data: deps.data });
  if (deps.groups) registerGroupsRoutes(app, { registry: deps.registry, ...deps.groups });
  if (deps.demandResponse) registerDemandResponseRoutes(app, deps.demandResponse);
  if (deps.alerts) registerAlertsRoutes(app, deps.alerts);
  if (deps.polling) registerPollingRoutes(app, { registry: deps.registry, ...deps.polling });
  if (deps.email) registerEmailRoutes(app, { registry: deps.registry, poller: deps.email });
  if (deps.exports) registerCsvRoutes(app, { registry: deps.registry, exports: deps.exports });
  registerEventsRoute(app, { store: deps.store, bus: deps.bus, options: deps.events });
  registerHealthRoutes(app, { registry: deps.registry, store: deps.store, health: deps.health });
  if (deps.dashboard) {
    registerDashboard(app, {
      registry: deps.registry,
      store: deps.store,
      callerOf: (request) => request.principal,
      ...deps.dashboard,
    });
  }
  return app;
}
