import { EventEmitter } from 'node:events';
import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';

// Just enough of an @xmpp/client Client for the agent's stanza handlers (STYLE §7: the core is
// testable without sockets): iqCallee routes, 'stanza' events and a record of what was sent.

type IqHandler = (ctx: { stanza: Element; element: Element }) => unknown;

export interface FakeXmpp {
  client: Client;
  sent: Element[];
  /** Delivers an IQ get/set to the registered handler, as xmpp.js would, and returns its answer. */
  iq(type: 'get' | 'set', from: string, payload: Element): Promise<Element | undefined>;
  /** Delivers a stanza to the 'stanza' listeners and lets their async work finish. */
  deliver(stanza: Element): Promise<void>;
}

export function fakeXmpp(jid = 'mtr-0001@grid.example/agent'): FakeXmpp {
  const handlers = new Map<string, IqHandler>();
  const emitter = new EventEmitter();
  const sent: Element[] = [];
  const client = Object.assign(emitter, {
    jid: { toString: () => jid },
    iqCallee: {
      get: (ns: string, name: string, handler: IqHandler) =>
        handlers.set(`get ${ns} ${name}`, handler),
      set: (ns: string, name: string, handler: IqHandler) =>
        handlers.set(`set ${ns} ${name}`, handler),
    },
    async send(stanza: Element) {
      sent.push(stanza);
    },
  }) as unknown as Client;
  return {
    client,
    sent,
    async iq(type, from, payload) {
      const handler = handlers.get(`${type} ${payload.attrs.xmlns} ${payload.name}`);
      if (!handler) return undefined;
      const stanza = xml('iq', { type, from, to: jid, id: 'q1' }, payload);
      return (await handler({ stanza, element: payload })) as Element | undefined;
    },
    async deliver(stanza) {
      emitter.emit('stanza', stanza);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

/** The condition, type, text and XEP-0050 condition of an <error/>. */
export function describeError(error: Element | undefined) {
  if (!error?.is('error')) throw new Error(`expected an <error/>, got ${error?.toString()}`);
  const children = error.getChildElements();
  return {
    type: error.attrs.type as string,
    condition: children[0]?.name,
    text: error.getChildText('text') ?? undefined,
    adhoc: children.find((c) => c.attrs.xmlns === 'http://jabber.org/protocol/commands')?.name,
  };
}
