import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { bareJid } from '../../src/protocol/meter-id.js';
import type { Acl } from '../security/acl.js';

// PROTOCOL §2: approve presence subscriptions from the presence service and from JIDs the ACL
// grants viewer or more; answer everyone else with `unsubscribed` and log it. Meters never ask
// to subscribe to anyone (no presence fan-out between meters).

export function handleSubscriptionRequests(deps: { xmpp: Client; acl: Acl; logger: Logger }) {
  const { xmpp, acl, logger } = deps;
  xmpp.on('stanza', (stanza: Element) => {
    if (!stanza.is('presence') || stanza.attrs.type !== 'subscribe') return;
    const from = stanza.attrs.from as string | undefined;
    if (!from) return;
    const requester = bareJid(from);
    // RFC 6121 §3.1.4: answer to the bare JID.
    if (acl.allows(requester, 'viewer')) {
      logger.info({ from: requester, role: acl.roleOf(requester) }, 'subscription approved');
      send(xmpp, xml('presence', { to: requester, type: 'subscribed' }), logger);
    } else {
      logger.warn({ from: requester }, 'subscription refused: not in the ACL');
      send(xmpp, xml('presence', { to: requester, type: 'unsubscribed' }), logger);
    }
  });
}

function send(xmpp: Client, stanza: Element, logger: Logger): void {
  xmpp.send(stanza).catch((error: Error) => logger.warn({ err: error.message }, 'send failed'));
}
