import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { bareJid, splitJid } from '../../src/protocol/meter-id.js';
import { stanzaError } from '../../src/xmpp/stanza-errors.js';
import type { Acl } from './acl.js';

// PROTOCOL §2 and "Names" (privacy): whoever the ACL does not know must not learn that a meter
// is online or what it is. The server delivers IQs to a full JID from anyone, and xmpp.js
// answers pings itself, so the gate sits where every answer leaves: an IQ result addressed to a
// stranger is replaced by the error an offline meter would give (RFC 6121 §8.5.3.2.1:
// service-unavailable), and the attempt is logged.

export function hideFromStrangers(deps: {
  xmpp: Client;
  acl: Acl;
  domain: string;
  logger: Logger;
}): void {
  const { xmpp, acl, logger } = deps;
  const domain = deps.domain.toLowerCase();
  const send = xmpp.send.bind(xmpp);
  const mayKnow = (to: string) => {
    const { local, domain: toDomain } = splitJid(to);
    // Our own server (no local part on our domain) may always ask, e.g. for XEP-0199 pings.
    return (local === undefined && toDomain === domain) || acl.allows(to, 'viewer');
  };
  xmpp.send = (element: Element) => {
    const to = element.attrs.to as string | undefined;
    if (element.name !== 'iq' || element.attrs.type !== 'result' || !to || mayKnow(to)) {
      return send(element);
    }
    logger.warn({ from: bareJid(to) }, 'query from outside the ACL answered as if offline');
    return send(
      xml(
        'iq',
        { type: 'error', to, id: element.attrs.id },
        stanzaError('cancel', 'service-unavailable'),
      ),
    );
  };
}
