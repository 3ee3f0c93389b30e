import type { Component } from '@xmpp/component';
import type { Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { AGENT_RESOURCE, splitJid } from '../../src/protocol/meter-id.js';
import { parseMeterPresence } from '../../src/protocol/meter-status.js';
import type { PresenceRecorder } from '../presence/presence-recorder.js';

// The XMPP edge for meters' presence: decides who a presence is from and what it says, then
// hands a typed value to the recorder (STYLE §3). Nothing here may throw: one bad stanza must
// not stop the service (PROTOCOL §1).

const MAX_STANZA_LOGGED = 4096;

export function handleMeterPresence(deps: {
  xmpp: Component;
  domain: string;
  isMeter: (meterId: string) => boolean;
  recorder: PresenceRecorder;
  logger: Logger;
}): void {
  const { xmpp, domain, isMeter, recorder, logger } = deps;
  xmpp.on('stanza', (stanza: Element) => {
    if (!stanza.is('presence')) return;
    const type = stanza.attrs.type as string | undefined;
    if (type !== undefined && type !== 'unavailable') return; // subscriptions, probes, errors
    try {
      onPresence(stanza);
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'presence handling failed');
    }
  });

  function onPresence(stanza: Element) {
    const receivedAt = new Date();
    const from = splitJid(String(stanza.attrs.from ?? ''));
    // Prosody answers a subscription with an unavailable from the bare JID (XMPP-NOTES): not news.
    if (from.domain !== domain || !from.local || from.resource === undefined) return;
    const meterId = from.local;
    if (!isMeter(meterId)) {
      logger.warn({ from: stanza.attrs.from }, 'presence from an account that is not a meter');
      return;
    }
    if (from.resource !== AGENT_RESOURCE) {
      recorder.protocolError(
        meterId,
        `presence from resource '${from.resource}', meters use '${AGENT_RESOURCE}'`,
        stanza.toString().slice(0, MAX_STANZA_LOGGED),
        receivedAt,
      );
      return;
    }
    const parsed = parseMeterPresence(stanza);
    switch (parsed.kind) {
      case 'status':
        recorder.status(meterId, parsed.status, 'push', receivedAt);
        return;
      case 'server-unavailable':
        // PROTOCOL §1: the server says the meter's session ended without a goodbye.
        recorder.gone(meterId, 'connection-lost', 'server', receivedAt);
        return;
      case 'protocol-error':
        recorder.protocolError(
          meterId,
          parsed.error,
          stanza.toString().slice(0, MAX_STANZA_LOGGED),
          receivedAt,
        );
        // A goodbye is a goodbye even with a broken extension: the server will not send another.
        if (stanza.attrs.type === 'unavailable') {
          recorder.gone(meterId, 'connection-lost', 'push', receivedAt);
        }
        return;
    }
  }
}
