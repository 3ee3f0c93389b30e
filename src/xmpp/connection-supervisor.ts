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
  disconnect(): Promise<unknown>;
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
  /**
   * An attempt that is not online by then is torn down and retried: a server that accepts TCP
   * but never answers (or a stalled TLS handshake) must not hang us forever.
   */
  attemptTimeoutMs?: number;
}

export interface ConnectionSupervisor {
  start(): void;
  stop(): Promise<void>;
  /** Drops the connection (e.g. a keep-alive found it dead); the usual backoff follows. */
  forceReconnect(why: string): void;
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
  /** We dropped the link ourselves (keep-alive, failed set-up): no spread for its first retry. */
  let droppedByUs = false;
  /**
   * The server ended this connection: it sent a stream error (Prosody's system-shutdown on a
   * restart), or closed the socket without our closing first. Only then is the first retry
   * spread (backoff.ts): a link that our own XEP-0198 keep-alive found dead (xmpp.js closes it
   * itself) is one meter's problem and is retried at once, not up to a minute later.
   */
  let serverEnded = false;
  let closingByUs = false;
  let attemptTimer: NodeJS.Timeout | undefined;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 30_000;

  const tearDown = () => {
    droppedByUs = true;
    if (entity.status !== 'disconnect' && entity.status !== 'offline') {
      entity.disconnect().catch(() => {});
    }
  };

  /**
   * The current attempt. An attempt given up (timed out) can still fail later, e.g. its TCP
   * connect times out after the next attempt is under way; its failure must not tear down the
   * next attempt's connection or clear its timer (seen in the reconnect storm of issue 6: two
   * attempts interleaved on one client until the server saw garbage).
   */
  let currentAttempt = 0;

  const attempt = (first: boolean) => {
    const thisAttempt = ++currentAttempt;
    droppedByUs = false;
    serverEnded = false;
    closingByUs = false;
    clearTimeout(attemptTimer);
    attemptTimer = setTimeout(() => {
      attemptTimer = undefined;
      currentAttempt += 1; // given up: whatever it does from now on is not ours to act on

      logger.warn({ status: entity.status, attemptTimeoutMs }, 'connection attempt timed out');
      tearDown();
      scheduleRetry('attempt timed out');
    }, attemptTimeoutMs);
    const started = first ? entity.start() : entity.reconnect.reconnect();
    started.catch((error: Error) => {
      if (thisAttempt !== currentAttempt) {
        logger.debug(describeError(error), 'an attempt already given up failed');
        return;
      }
      if (isFatal(error)) return failFatally(error);
      logger.warn(describeError(error), 'connection attempt failed');
      clearTimeout(attemptTimer);
      attemptTimer = undefined;
      // The socket may still be open (e.g. the stream never opened): close it before retrying.
      tearDown();
      scheduleRetry('attempt failed');
    });
  };

  /** `spread`: the server ended a session that held (backoff.ts, RFC 6120 §3.3). */
  const scheduleRetry = (why: string, spread = false) => {
    if (stopping || fatal || retryTimer) return;
    const delayMs = backoff.next(spread);
    logger.info(
      { delayMs, attempt: backoff.attempts, why, ...(spread && { spread }) },
      'reconnecting after backoff',
    );
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (stopping) return;
      reconnects += 1;
      attempt(false);
    }, delayMs);
  };

  const failFatally = (error: Error) => {
    if (fatal) return;
    fatal = true;
    stopping = true;
    clearTimeout(retryTimer);
    clearTimeout(attemptTimer);
    entity.stop().catch(() => {});
    hooks.onFatal(error);
  };

  const ready = async (resumed: boolean) => {
    clearTimeout(attemptTimer);
    attemptTimer = undefined;
    connected = true;
    backoff.reset();
    try {
      await hooks.onReady(resumed);
    } catch (error) {
      // e.g. the link dropped while the session was being set up: start over.
      logger.warn({ err: (error as Error).message }, 'session set-up failed; reconnecting');
      tearDown();
    }
  };

  entity.on('error', (error: Error) => {
    if (error.name === 'StreamError') serverEnded = true;
    if (isFatal(error)) return failFatally(error);
    logger.warn(describeError(error), 'xmpp error');
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

  entity.on('status', (status: string) => {
    // xmpp.js says `disconnecting` when it closes the socket itself; a peer's close skips it.
    if (status === 'disconnecting') closingByUs = true;
    if (status === 'disconnect' && !closingByUs) serverEnded = true;
  });

  entity.on('disconnect', () => {
    const wasConnected = connected;
    connected = false;
    if (wasConnected) hooks.onDisconnected?.();
    scheduleRetry('disconnected', wasConnected && !droppedByUs && serverEnded);
  });

  return {
    start() {
      attempt(true);
    },
    forceReconnect(why) {
      if (stopping) return;
      logger.warn({ why }, 'dropping the connection');
      tearDown();
    },
    async stop() {
      stopping = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      clearTimeout(attemptTimer);
      attemptTimer = undefined;
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

/** Log fields for a connection error; an AggregateError (every address refused) has no message. */
function describeError(error: Error): { err: string; code?: string; errors?: string[] } {
  const nested = (error as Partial<AggregateError>).errors;
  return {
    err: error.message || error.name,
    ...((error as NodeJS.ErrnoException).code && { code: (error as NodeJS.ErrnoException).code }),
    ...(Array.isArray(nested) && { errors: nested.map((e: Error) => e.message) }),
  };
}
