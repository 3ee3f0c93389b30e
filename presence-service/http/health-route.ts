import type { FastifyInstance } from 'fastify';
import type { MeterRegistry } from '../store/meter-registry.js';
import type { PresenceStore } from '../store/presence-store.js';

// GET /healthz for load balancers and systemd checks, GET /api/stats for dashboards.

export type XmppHealth = 'online' | 'offline' | 'connecting';

export type HealthSource = () => { xmpp: XmppHealth };

export function registerHealthRoutes(
  app: FastifyInstance,
  {
    registry,
    store,
    health,
  }: { registry: MeterRegistry; store: PresenceStore; health: HealthSource },
): void {
  app.get('/healthz', (_request, reply) => {
    const { xmpp } = health();
    // Without the component connection the service learns nothing new: report it as not
    // healthy, while still answering so the body says why.
    const online = xmpp === 'online';
    reply
      .code(online ? 200 : 503)
      .send({ status: online ? 'ok' : 'degraded', xmpp, meters: registry.count() });
  });

  app.get('/api/stats', () => {
    const counts = store.counts();
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    return { counts, total };
  });
}
