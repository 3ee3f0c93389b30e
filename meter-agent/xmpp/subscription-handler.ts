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

/**
 * PROTOCOL §2 after an ACL change: someone removed from the ACL must stop seeing the meter. On
 * each new session the agent reads its roster (RFC 6121 §2.2) and cancels the subscription of
 * every contact the ACL no longer grants viewer (RFC 6121 §3.2: `unsubscribed`).
 */
export async function revokeStaleSubscriptions(deps: {
  xmpp: Client;
  acl: Acl;
  logger: Logger;
}): Promise<number> {
  const { xmpp, acl, logger } = deps;
  const roster = await xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
  let revoked = 0;
  for (const item of roster?.getChildren('item') ?? []) {
    const jid = String(item.attrs.jid ?? '');
    const subscription = String(item.attrs.subscription ?? 'none');
    if (!jid || !['from', 'both'].includes(subscription) || acl.allows(jid, 'viewer')) continue;
    logger.warn({ jid }, 'subscription revoked: no longer in the ACL');
    send(xmpp, xml('presence', { to: jid, type: 'unsubscribed' }), logger);
    revoked += 1;
  }
  return revoked;
}
