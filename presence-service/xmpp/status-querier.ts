import type { Component } from '@xmpp/component';
import xml from '@xmpp/xml';
import { meterFullJid } from '../../src/protocol/meter-id.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import { buildStatusQuery, parseStatusAnswer } from '../../src/protocol/status-query.js';

// PROTOCOL §3: asks one meter for its status. The outcome is typed so the caller never parses
// XML or stanza errors.

export type StatusQueryOutcome =
  | { kind: 'status'; status: MeterStatus }
  /** The server answered for the meter: no session (RFC 6121 §8.5.3.1). */
  | { kind: 'offline'; condition: string }
  | { kind: 'timeout' }
  | { kind: 'error'; error: string };

const OFFLINE_CONDITIONS = new Set([
  'service-unavailable',
  'recipient-unavailable',
  'item-not-found',
]);

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
      const e = error as { name?: string; condition?: string; message?: string };
      if (e.name === 'TimeoutError') return { kind: 'timeout' };
      if (e.name === 'StanzaError' && OFFLINE_CONDITIONS.has(e.condition ?? '')) {
        return { kind: 'offline', condition: e.condition as string };
      }
      return { kind: 'error', error: e.condition ?? e.message ?? String(error) };
    }
  };
}
