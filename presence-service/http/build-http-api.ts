import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../src/log.js';
import type { AlertStore } from '../alerts/alert-store.js';
import type { DataStore } from '../data/data-store.js';
import type { ChangeBus } from '../presence/change-bus.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import type { PresenceStore } from '../store/presence-store.js';
import { registerAlertsRoutes } from './alerts-routes.js';
import { installErrorHandlers } from './api-errors.js';
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
import { type PollingRoutesDeps, registerPollingRoutes } from './polling-routes.js';
import { DebugRequestLogController } from './request-logging.js';

// The presence service's HTTP API, built but not listening: tests drive it with app.inject()
// and main.ts calls listen() (STYLE §7, Fastify "Testing" guide: build vs listen).

export interface HttpApiDeps {
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
  bus: ChangeBus;
  /** The module's child logger (`{ module: 'http' }`), made by the composition root. */
  logger: Logger;
  health: HealthSource;
  /** Event-stream tuning; the defaults suit production, tests shorten the keep-alive. */
  events?: EventStreamOptions;
}

export function buildHttpApi(deps: HttpApiDeps): FastifyInstance {
  const app = Fastify({
    // Typed as Fastify's logger interface so the instance is the plain FastifyInstance the
    // route modules take (pino's own Logger type carries generics Fastify does not expect).
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new DebugRequestLogController(),
    // Small bodies only: query strings, and group commands (a form of a few fields).
    bodyLimit: 16 * 1024,
  });

  installErrorHandlers(app);
  registerMetersRoutes(app, { registry: deps.registry, store: deps.store });
  if (deps.data) registerDataRoutes(app, { registry: deps.registry, data: deps.data });
  if (deps.groups) registerGroupsRoutes(app, { registry: deps.registry, ...deps.groups });
  if (deps.demandResponse) registerDemandResponseRoutes(app, deps.demandResponse);
  if (deps.alerts) registerAlertsRoutes(app, deps.alerts);
  if (deps.polling) registerPollingRoutes(app, { registry: deps.registry, ...deps.polling });
  if (deps.email) registerEmailRoutes(app, { registry: deps.registry, poller: deps.email });
  registerEventsRoute(app, { store: deps.store, bus: deps.bus, options: deps.events });
  registerHealthRoutes(app, { registry: deps.registry, store: deps.store, health: deps.health });
  return app;
}
