import type { Client } from '@xmpp/client';
import xml from '@xmpp/xml';
import { NS_DATA, NS_DISCO_INFO, NS_METER, NS_PING } from '../../src/protocol/namespaces.js';

// XEP-0030 §3.1 disco#info: who we are and what we speak (PROTOCOL §3). The commands namespace
// is added when the ad-hoc commands land; advertising it before would mislead clients.
// XEP-0012 last activity is answered by the server for the bare JID, not by the agent.

export const AGENT_FEATURES = [NS_DISCO_INFO, NS_METER, NS_DATA, NS_PING] as const;

export function answerDiscoInfo(deps: { xmpp: Client; meterId: string; kind: string }) {
  const { xmpp, meterId, kind } = deps;
  xmpp.iqCallee.get(NS_DISCO_INFO, 'query', () =>
    xml(
      'query',
      { xmlns: NS_DISCO_INFO },
      xml('identity', { category: 'client', type: 'bot', name: `Gridpresence ${kind} ${meterId}` }),
      ...AGENT_FEATURES.map((feature) => xml('feature', { var: feature })),
    ),
  );
}
