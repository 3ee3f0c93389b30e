import { readFileSync } from 'node:fs';
import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import { silentLogger } from '../../../src/log.js';
import type { Stack } from '../../../src/stack/start-stack.js';
import { waitFor } from '../../../src/stack/wait.js';
import { createClient } from '../../../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../../../src/xmpp/workarounds/await-stream-management.js';

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
  const xmpp = await createClient({
    service: `xmpps://${stack.prosody.host}:${stack.prosody.directTlsPort}`,
    domain: stack.prosody.domain,
    username,
    password,
    resource,
    caPem: readFileSync(stack.prosody.caFile, 'utf8'),
    logger: silentLogger(),
  });
  const stanzas: Element[] = [];
  xmpp.on('stanza', (stanza: Element) => stanzas.push(stanza));
  xmpp.on('error', () => {});
  await xmpp.start();
  await awaitStreamManagement(xmpp);
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
