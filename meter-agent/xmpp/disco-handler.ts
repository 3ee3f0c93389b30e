import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import {
  NS_COMMANDS,
  NS_DATA,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_METER,
  NS_PING,
  NS_X_DATA,
} from '../../src/protocol/namespaces.js';
import { stanzaError } from '../../src/xmpp/stanza-errors.js';
import type { Acl } from '../security/acl.js';

// XEP-0030 §3.1 disco#info: who we are and what we speak (PROTOCOL §3), and XEP-0050 §2.2–2.3:
// the command list as disco#items of the commands node, and disco#info of each command node.
// The list is the requester's own: the commands its role may run on this meter.
// XEP-0012 last activity is answered by the server for the bare JID, not by the agent.
// Privacy (PROTOCOL §2): a stranger gets service-unavailable for everything here, errors
// included — the IQ privacy gate only rewrites results, so errors must not tell them more.

export const AGENT_FEATURES = [
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_METER,
  NS_DATA,
  NS_PING,
  NS_COMMANDS,
  NS_X_DATA,
] as const;

/** The commands a sender may run through the ad-hoc door, with their disco names. */
export interface CommandCatalog {
  listFor(jid: string): Array<{ node: string; name: string }>;
  /** Whether `node` is a command of this meter at all (for forbidden vs item-not-found). */
  has(node: string): boolean;
}

export function answerDiscoInfo(deps: {
  xmpp: Client;
  meterId: string;
  kind: string;
  acl: Acl;
  commands: CommandCatalog;
}) {
  const { xmpp, meterId, kind, acl, commands } = deps;
  const self = () => xmpp.jid?.toString() ?? '';
  const asIfOffline = () => stanzaError('cancel', 'service-unavailable');

  xmpp.iqCallee.get(NS_DISCO_INFO, 'query', (ctx: { stanza: Element; element: Element }) => {
    const from = String(ctx.stanza.attrs.from ?? '');
    const node = ctx.element.attrs.node as string | undefined;
    if (node === undefined) {
      // Strangers: the privacy gate turns this result into service-unavailable.
      return xml(
        'query',
        { xmlns: NS_DISCO_INFO },
        xml('identity', {
          category: 'client',
          type: 'bot',
          name: `Gridpresence ${kind} ${meterId}`,
        }),
        ...AGENT_FEATURES.map((feature) => xml('feature', { var: feature })),
      );
    }
    if (!acl.allows(from, 'viewer')) return asIfOffline();
    if (node === NS_COMMANDS) {
      // XEP-0050 §2.2: the command list node.
      return xml(
        'query',
        { xmlns: NS_DISCO_INFO, node },
        xml('identity', { category: 'automation', type: 'command-list', name: 'Commands' }),
        xml('feature', { var: NS_COMMANDS }),
      );
    }
    const command = commands.listFor(from).find((c) => c.node === node);
    if (!command) {
      // XEP-0050 §2.2: a command the requester may not run is forbidden.
      return commands.has(node)
        ? stanzaError('auth', 'forbidden', 'your role may not run this command')
        : stanzaError('cancel', 'item-not-found');
    }
    return xml(
      'query',
      { xmlns: NS_DISCO_INFO, node },
      xml('identity', { category: 'automation', type: 'command-node', name: command.name }),
      xml('feature', { var: NS_COMMANDS }),
      xml('feature', { var: NS_X_DATA }),
    );
  });

  xmpp.iqCallee.get(NS_DISCO_ITEMS, 'query', (ctx: { stanza: Element; element: Element }) => {
    const from = String(ctx.stanza.attrs.from ?? '');
    const node = ctx.element.attrs.node as string | undefined;
    if (!acl.allows(from, 'viewer')) return asIfOffline();
    if (node === undefined) return xml('query', { xmlns: NS_DISCO_ITEMS });
    if (node !== NS_COMMANDS) return stanzaError('cancel', 'item-not-found');
    return xml(
      'query',
      { xmlns: NS_DISCO_ITEMS, node },
      ...commands
        .listFor(from)
        .map((c) => xml('item', { jid: self(), node: c.node, name: c.name })),
    );
  });
}
