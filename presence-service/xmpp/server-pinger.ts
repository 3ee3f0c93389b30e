import type { Component } from '@xmpp/component';
import xml from '@xmpp/xml';
import { NS_PING } from '../../src/protocol/namespaces.js';

// XEP-0199 §4.2: the component pings its own server. Silence means the link is dead (the
// keep-alive reconnects); liveness asks it before blaming a meter for a silence that may be ours.

/** `answered` includes error replies: any answer proves the link carries stanzas. */
export type ServerPinger = (timeoutMs: number) => Promise<'answered' | 'timeout'>;

export function createServerPinger(deps: {
  xmpp: Component;
  componentJid: string;
  domain: string;
}): ServerPinger {
  const { xmpp, componentJid, domain } = deps;
  return async (timeoutMs) => {
    try {
      await xmpp.iqCaller.request(
        xml('iq', { type: 'get', from: componentJid, to: domain }, xml('ping', { xmlns: NS_PING })),
        timeoutMs,
      );
      return 'answered';
    } catch (error) {
      return (error as Error).name === 'TimeoutError' ? 'timeout' : 'answered';
    }
  };
}

/**
 * Whether the server answers, asked at most once per `cacheMs` however many callers want to
 * know at once (a feeder outage makes hundreds of meters silent in the same second).
 */
export function serverAnsweringCheck(
  ping: ServerPinger,
  options: { timeoutMs: number; cacheMs: number },
): () => Promise<boolean> {
  let last: { at: number; answer: Promise<boolean> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= options.cacheMs) {
      last = { at: now, answer: ping(options.timeoutMs).then((r) => r === 'answered') };
    }
    return last.answer;
  };
}
