import type { Component } from '@xmpp/component';
import xml from '@xmpp/xml';
import { meterFullJid } from '../../src/protocol/meter-id.js';
import { NS_PING } from '../../src/protocol/namespaces.js';
import { classifyIqFailure, type IqFailure } from './iq-failure.js';

// XEP-0199 §4.1: pings one meter's full JID. The cheapest sign of life a meter can give: the
// agent answers it without touching the meter. Typed outcomes, as the status querier's.

/** An `error` reply is still an answer: the meter (or its server) is alive. */
export type PingOutcome = { kind: 'pong'; rttMs: number } | IqFailure;

export type MeterPinger = (meterId: string, timeoutMs: number) => Promise<PingOutcome>;

export function createMeterPinger(deps: {
  xmpp: Component;
  componentJid: string;
  domain: string;
}): MeterPinger {
  const { xmpp, componentJid, domain } = deps;
  return async (meterId, timeoutMs) => {
    const iq = xml(
      'iq',
      { type: 'get', from: componentJid, to: meterFullJid(meterId, domain) },
      xml('ping', { xmlns: NS_PING }),
    );
    const started = performance.now();
    try {
      await xmpp.iqCaller.request(iq, timeoutMs);
      return { kind: 'pong', rttMs: performance.now() - started };
    } catch (error) {
      return classifyIqFailure(error);
    }
  };
}
