import type { Component } from '@xmpp/component';
import xml from '@xmpp/xml';
import { NS_DISCO_INFO, NS_METER, NS_PING } from '../../src/protocol/namespaces.js';

// What the service answers about itself: XEP-0030 disco#info (so clients and admins can see
// what presence.<domain> is) and XEP-0199 pings (so a monitor can check the component link).

export function answerComponentQueries(xmpp: Component): void {
  xmpp.iqCallee.get(NS_DISCO_INFO, 'query', () =>
    xml(
      'query',
      { xmlns: NS_DISCO_INFO },
      xml('identity', {
        category: 'component',
        type: 'presence',
        name: 'Gridpresence presence service',
      }),
      xml('feature', { var: NS_DISCO_INFO }),
      xml('feature', { var: NS_PING }),
      xml('feature', { var: NS_METER }),
    ),
  );
  // XEP-0199 §4: an empty result is the pong.
  xmpp.iqCallee.get(NS_PING, 'ping', () => true);
}
