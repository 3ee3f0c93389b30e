import type { Component } from '@xmpp/component';
import xml, { type Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { meterBareJid, splitJid } from '../../src/protocol/meter-id.js';

// XMPP-NOTES "Subscribing a component": the component asks each meter for its presence with
// <presence type='subscribe'/>; the meter approves with `subscribed`, and the subscription then
// lives in the meter's roster across restarts. A request to an offline meter waits on the server
// until the meter logs in.

export interface SubscriptionManager {
  /** Sends a subscription request to every meter that has not approved one yet. */
  subscribePending(): Promise<number>;
}

export function createSubscriptionManager(deps: {
  xmpp: Component;
  componentJid: string;
  domain: string;
  pendingMeters: () => string[];
  markSubscribed: (meterId: string, at: string) => void;
  isMeter: (meterId: string) => boolean;
  logger: Logger;
}): SubscriptionManager {
  const { xmpp, componentJid, domain, logger } = deps;

  xmpp.on('stanza', (stanza: Element) => {
    if (!stanza.is('presence')) return;
    const type = stanza.attrs.type as string | undefined;
    const from = splitJid(String(stanza.attrs.from ?? ''));
    if (from.domain !== domain || !from.local) return;
    if (type === 'subscribed' && deps.isMeter(from.local)) {
      deps.markSubscribed(from.local, new Date().toISOString());
      logger.info({ meterId: from.local }, 'meter approved our subscription');
    } else if (type === 'unsubscribed' && deps.isMeter(from.local)) {
      logger.error(
        { meterId: from.local },
        "meter refused our subscription: check the agent's `service` setting",
      );
    } else if (type === 'subscribe') {
      // PROTOCOL "Names": nobody subscribes to the service; meters never subscribe at all.
      void xmpp
        .send(xml('presence', { from: componentJid, to: stanza.attrs.from, type: 'unsubscribed' }))
        .catch(() => {});
    }
  });

  return {
    async subscribePending() {
      const pending = deps.pendingMeters();
      // Sent in slices so one call does not buffer ten thousand stanzas in the socket at once.
      for (let i = 0; i < pending.length; i += 500) {
        await xmpp.sendMany(
          pending.slice(i, i + 500).map((id) =>
            xml('presence', {
              from: componentJid,
              to: meterBareJid(id, domain),
              type: 'subscribe',
            }),
          ),
        );
      }
      if (pending.length > 0) logger.info({ count: pending.length }, 'subscription requests sent');
      return pending.length;
    },
  };
}
