import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../src/log.js';
import type { ChangeBus } from '../presence/change-bus.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import type { PresenceStore } from '../store/presence-store.js';
import { installErrorHandlers } from './api-errors.js';
import { type EventStreamOptions, registerEventsRoute } from './events-route.js';
import { type HealthSource, registerHealthRoutes } from './health-route.js';
import { registerMetersRoutes } from './meters-routes.js';
import { DebugRequestLogController } from './request-logging.js';

// The presence service's HTTP API, built but not listening: tests drive it with app.inject()
// and main.ts calls listen() (STYLE §7, Fastify "Testing" guide: build vs listen).

export interface HttpApiDeps {
  registry: MeterRegistry;
  store: PresenceStore;
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
    // Only GETs with small query strings are served; nothing needs a big body.
    bodyLimit: 16 * 1024,
  });

  installErrorHandlers(app);
  registerMetersRoutes(app, { registry: deps.registry, store: deps.store });
  registerEventsRoute(app, { store: deps.store, bus: deps.bus, options: deps.events });
  registerHealthRoutes(app, { registry: deps.registry, store: deps.store, health: deps.health });
  return app;
}
