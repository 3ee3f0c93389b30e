import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import { loginAccount } from '../../../src/stack/measurement-stack.js';
import type { Stack } from '../../../src/stack/start-stack.js';
import { waitFor } from '../../../src/stack/wait.js';

/** A plain XMPP account (an operator, a stranger, a rogue) logged into the stack's Prosody. */
export interface XmppUser {
  xmpp: Client;
  /** Every stanza received, in order. */
  stanzas: Element[];
  presencesFrom(jidPrefix: string): Element[];
  waitForStanza(
    what: string,
    match: (stanza: Element) => boolean,
    timeoutMs?: number,
  ): Promise<Element>;
  stop(): Promise<void>;
}

export async function connectUser(
  stack: Stack,
  username: string,
  password: string,
  resource = 'test',
): Promise<XmppUser> {
  // Nothing is delivered before the first presence, which the tests send after this returns.
  const xmpp = await loginAccount(stack, username, password, resource);
  const stanzas: Element[] = [];
  xmpp.on('stanza', (stanza: Element) => stanzas.push(stanza));
  // Like every chat client: fetch the roster first. Prosody only delivers subscription answers
  // (`subscribed`/`unsubscribed`) to resources that asked for the roster (RFC 6121 §2.2).
  await xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
  return {
    xmpp,
    stanzas,
    presencesFrom: (prefix) =>
      stanzas.filter((s) => s.is('presence') && String(s.attrs.from ?? '').startsWith(prefix)),
    waitForStanza: (what, match, timeoutMs = 10_000) =>
      waitFor(what, () => stanzas.find(match), timeoutMs),
    async stop() {
      await xmpp.stop().catch(() => {});
    },
  };
}
