import type { Logger } from '../log.js';
import type { Backoff } from './backoff.js';

// Keeps one XMPP connection up, for a meter's client and for the service's component alike:
// connects, reconnects with jittered exponential backoff (xmpp.js would retry every second), and
// stops for good on a fatal error such as refused credentials (retrying them in a loop only loads
// the server and fills its logs).

/** What the supervisor needs of an xmpp.js entity (client or component). */
export interface SupervisedEntity {
  status: string;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  reconnect: { reconnect(): Promise<unknown> };
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export interface SupervisorHooks {
  /**
   * The session is ready for stanzas: a new session (`resumed` false) or an XEP-0198 resumption
   * (`resumed` true: the server kept our presence and queue).
   */
  onReady(resumed: boolean): void | Promise<void>;
  /** A fatal error (see `isFatal`); the supervisor has stopped. */
  onFatal(error: Error): void;
  onDisconnected?(): void;
}

export interface SupervisorOptions {
  entity: SupervisedEntity;
  backoff: Backoff;
  logger: Logger;
  hooks: SupervisorHooks;
  /** Errors not worth a retry (wrong credentials or secret). */
  isFatal(error: unknown): boolean;
  /** Resolves when a new session may carry stanzas (clients: after XEP-0198 is settled). */
  whenReady?(): Promise<void>;
  /** An emitter of `resumed` (XEP-0198 stream management), for clients. */
  resumption?: { on(event: 'resumed', listener: () => void): unknown };
}

export interface ConnectionSupervisor {
  start(): void;
  stop(): Promise<void>;
  readonly connected: boolean;
  readonly reconnects: number;
}

export function superviseConnection(options: SupervisorOptions): ConnectionSupervisor {
  const { entity, backoff, logger, hooks, isFatal } = options;
  let stopping = false;
  let fatal = false;
  let connected = false;
  let reconnects = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const scheduleRetry = (why: string) => {
    if (stopping || fatal || retryTimer) return;
    const delayMs = backoff.next();
    logger.info({ delayMs, attempt: backoff.attempts, why }, 'reconnecting after backoff');
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (stopping) return;
      reconnects += 1;
      entity.reconnect.reconnect().catch((error: Error) => {
        if (isFatal(error)) return failFatally(error);
        logger.warn({ err: error.message }, 'reconnect attempt failed');
        if (entity.status === 'disconnect' || entity.status === 'offline') {
          scheduleRetry('connect failed');
        }
      });
    }, delayMs);
  };

  const failFatally = (error: Error) => {
    if (fatal) return;
    fatal = true;
    stopping = true;
    clearTimeout(retryTimer);
    entity.stop().catch(() => {});
    hooks.onFatal(error);
  };

  const ready = (resumed: boolean) => {
    connected = true;
    backoff.reset();
    return hooks.onReady(resumed);
  };

  entity.on('error', (error: Error) => {
    if (isFatal(error)) return failFatally(error);
    logger.warn({ err: error.message, code: (error as NodeJS.ErrnoException).code }, 'xmpp error');
  });

  entity.on('online', () => {
    const whenReady = options.whenReady?.() ?? Promise.resolve();
    void whenReady.then(() => {
      if (entity.status === 'online') return ready(false);
    });
  });

  options.resumption?.on('resumed', () => {
    logger.info('stream resumed (XEP-0198)');
    void ready(true);
  });

  entity.on('disconnect', () => {
    const wasConnected = connected;
    connected = false;
    if (wasConnected) hooks.onDisconnected?.();
    scheduleRetry('disconnected');
  });

  return {
    start() {
      entity.start().catch((error: Error) => {
        if (isFatal(error)) return failFatally(error);
        logger.warn({ err: error.message }, 'first connection attempt failed');
        scheduleRetry('start failed');
      });
    },
    async stop() {
      stopping = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      if (entity.status !== 'offline') await entity.stop().catch(() => {});
      connected = false;
    },
    get connected() {
      return connected;
    },
    get reconnects() {
      return reconnects;
    },
  };
}
