import type { Logger } from '../../src/log.js';
import type { ServerPinger } from './server-pinger.js';

// Components have no stream management, and a link that dies without a FIN looks alive for
// minutes (XMPP-NOTES). While online, the service pings its server (XEP-0199 §4.2) and drops
// the link when a ping goes unanswered; reconnecting then also recovers the meters' states.

export interface KeepAlive {
  start(): void;
  stop(): void;
}

export function createComponentKeepAlive(deps: {
  ping: ServerPinger;
  intervalMs: number;
  timeoutMs: number;
  logger: Logger;
  onDead: (why: string) => void;
}): KeepAlive {
  const { logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  const ping = async () => {
    // Only silence means a dead link; an error reply is still an answer.
    if ((await deps.ping(deps.timeoutMs)) === 'timeout') {
      logger.warn({ timeoutMs: deps.timeoutMs }, 'server did not answer a ping');
      deps.onDead('keep-alive ping unanswered');
    }
  };
  return {
    start() {
      clearInterval(timer);
      timer = setInterval(() => void ping(), deps.intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
