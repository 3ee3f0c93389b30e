import { type Component, component } from '@xmpp/component';
import type { Logger } from '../../src/log.js';
import { isComponentAuthFailure } from '../../src/xmpp/auth-errors.js';
import { createBackoff } from '../../src/xmpp/backoff.js';
import {
  type ConnectionSupervisor,
  type SupervisedEntity,
  superviseConnection,
} from '../../src/xmpp/connection-supervisor.js';
import { installXmppWorkarounds } from '../../src/xmpp/create-client.js';

// The service's XEP-0114 component connection. Components have no TLS and no stream
// management (XMPP-NOTES): the port must stay on loopback or a private interface (PROTOCOL §8).

export interface ComponentConnection {
  readonly xmpp: Component;
  readonly supervisor: ConnectionSupervisor;
  readonly jid: string;
}

export async function createComponentConnection(deps: {
  host: string;
  port: number;
  jid: string;
  secret: string;
  backoffBaseMs: number;
  backoffMaxMs: number;
  logger: Logger;
  onOnline: () => void | Promise<void>;
  onOffline: () => void;
  onFatal: (error: Error) => void;
  /** The session is up again after it was lost (not the first connect): metrics; optional. */
  onReconnected?: () => void;
}): Promise<ComponentConnection> {
  await installXmppWorkarounds();
  const xmpp = component({
    service: `xmpp://${deps.host}:${deps.port}`,
    domain: deps.jid,
    password: deps.secret,
  });
  // We reconnect ourselves with jittered exponential backoff.
  xmpp.reconnect.stop();
  // Nagle's algorithm adds tens of ms at p99 (XMPP-NOTES "Latency").
  xmpp.on('connect', () => xmpp.socket?.setNoDelay(true));

  let wasOnline = false;
  const supervisor = superviseConnection({
    entity: xmpp as unknown as SupervisedEntity,
    backoff: createBackoff({ baseMs: deps.backoffBaseMs, maxMs: deps.backoffMaxMs }),
    logger: deps.logger,
    isFatal: isComponentAuthFailure,
    hooks: {
      onReady: () => {
        deps.logger.info({ jid: deps.jid }, 'component online');
        if (wasOnline) deps.onReconnected?.();
        wasOnline = true;
        return deps.onOnline();
      },
      onDisconnected: () => {
        deps.logger.warn('component connection lost');
        deps.onOffline();
      },
      onFatal: deps.onFatal,
    },
  });
  return { xmpp, supervisor, jid: deps.jid };
}
