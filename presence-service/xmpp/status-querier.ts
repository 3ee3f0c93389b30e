import type { Component } from '@xmpp/component';
import xml from '@xmpp/xml';
import { meterFullJid } from '../../src/protocol/meter-id.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import { buildStatusQuery, parseStatusAnswer } from '../../src/protocol/status-query.js';
import { classifyIqFailure, type IqFailure } from './iq-failure.js';

// PROTOCOL §3: asks one meter for its status. The outcome is typed so the caller never parses
// XML or stanza errors.

export type StatusQueryOutcome = { kind: 'status'; status: MeterStatus } | IqFailure;

export type StatusQuerier = (meterId: string, timeoutMs: number) => Promise<StatusQueryOutcome>;

export function createStatusQuerier(deps: {
  xmpp: Component;
  componentJid: string;
  domain: string;
}): StatusQuerier {
  const { xmpp, componentJid, domain } = deps;
  return async (meterId, timeoutMs) => {
    const iq = xml(
      'iq',
      { type: 'get', from: componentJid, to: meterFullJid(meterId, domain) },
      buildStatusQuery(),
    );
    try {
      const reply = await xmpp.iqCaller.request(iq, timeoutMs);
      const parsed = parseStatusAnswer(reply.getChild('status'));
      return parsed.ok
        ? { kind: 'status', status: parsed.value }
        : { kind: 'error', error: parsed.error };
    } catch (error) {
      return classifyIqFailure(error);
    }
  };
}
