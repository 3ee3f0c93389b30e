import type { Component } from '@xmpp/component';
import xml from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { NS_PING } from '../../src/protocol/namespaces.js';

// Components have no stream management, and a link that dies without a FIN looks alive for
// minutes (XMPP-NOTES). While online, the service pings its server (XEP-0199 §4.2) and drops
// the link when a ping goes unanswered; reconnecting then also recovers the meters' states.

export interface KeepAlive {
  start(): void;
  stop(): void;
}

export function createComponentKeepAlive(deps: {
  xmpp: Component;
  componentJid: string;
  domain: string;
  intervalMs: number;
  timeoutMs: number;
  logger: Logger;
  onDead: (why: string) => void;
}): KeepAlive {
  const { xmpp, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  const ping = async () => {
    try {
      await xmpp.iqCaller.request(
        xml(
          'iq',
          { type: 'get', from: deps.componentJid, to: deps.domain },
          xml('ping', { xmlns: NS_PING }),
        ),
        deps.timeoutMs,
      );
    } catch (error) {
      // Only silence means a dead link; an error reply is still an answer.
      if ((error as Error).name === 'TimeoutError') {
        logger.warn({ timeoutMs: deps.timeoutMs }, 'server did not answer a ping');
        deps.onDead('keep-alive ping unanswered');
      }
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
