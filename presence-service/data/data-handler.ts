import type { Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { isDataMessage, parseDataMessage } from '../../src/protocol/data.js';
import { AGENT_RESOURCE, splitJid } from '../../src/protocol/meter-id.js';
import type { DataRecorder } from './data-recorder.js';

// The XMPP edge for meters' data (PROTOCOL §6): a `normal` message from a registered meter's full
// JID to the service, carrying one <reading/>, <event/> or <audit/> (docs/protocol.md "Data").
// It decides who sent it and what it says, then hands a typed value to the recorder (STYLE §3).
// Nothing here may throw: one bad stanza must not stop the service.

const MAX_STANZA_LOGGED = 4096;

/** What the handler needs of the component connection. */
export interface StanzaSource {
  on(event: 'stanza', listener: (stanza: Element) => void): unknown;
}

export function handleMeterData(deps: {
  xmpp: StanzaSource;
  domain: string;
  componentJid: string;
  isMeter: (meterId: string) => boolean;
  recorder: DataRecorder;
  protocolError: (input: {
    meterId: string;
    receivedAt: string;
    error: string;
    stanza: string;
  }) => void;
  /** A data message is a sign of life. */
  seen?: (meterId: string, at: Date) => void;
  logger: Logger;
}): void {
  const { xmpp, domain, componentJid, isMeter, recorder, logger } = deps;

  xmpp.on('stanza', (stanza: Element) => {
    // Errors are bounces of what we sent; data never travels in them.
    if (!stanza.is('message') || stanza.attrs.type === 'error' || !isDataMessage(stanza)) return;
    try {
      onData(stanza);
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'data handling failed');
    }
  });

  function onData(stanza: Element) {
    const receivedAt = new Date();
    const from = splitJid(String(stanza.attrs.from ?? ''));
    if (from.domain !== domain || !from.local || from.resource === undefined) {
      logger.warn({ from: stanza.attrs.from }, 'data from an address that is not a meter');
      return;
    }
    const meterId = from.local;
    if (!isMeter(meterId)) {
      logger.warn({ from: stanza.attrs.from }, 'data from an account that is not a meter');
      return;
    }
    const text = stanza.toString().slice(0, MAX_STANZA_LOGGED);
    const refuse = (error: string) => {
      logger.warn({ meterId, error }, 'protocol error in data from meter');
      deps.protocolError({ meterId, receivedAt: receivedAt.toISOString(), error, stanza: text });
    };
    if (from.resource !== AGENT_RESOURCE) {
      return refuse(`data from resource '${from.resource}', meters use '${AGENT_RESOURCE}'`);
    }
    deps.seen?.(meterId, receivedAt);
    const to = String(stanza.attrs.to ?? '');
    if (to.toLowerCase() !== componentJid) {
      return refuse(`data is sent to ${componentJid}, not to '${to}'`);
    }
    const parsed = parseDataMessage(stanza);
    if (!parsed.ok) return refuse(parsed.error);
    recorder.record(meterId, parsed.value, receivedAt, text);
  }
}
