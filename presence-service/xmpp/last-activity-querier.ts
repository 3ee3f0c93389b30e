import type { Component } from '@xmpp/component';
import xml, { type Element } from '@xmpp/xml';
import { z } from 'zod';
import { meterBareJid } from '../../src/protocol/meter-id.js';
import { NS_LAST_ACTIVITY } from '../../src/protocol/namespaces.js';
import { fail, ok, type Parsed } from '../../src/protocol/result.js';
import { classifyIqFailure, type IqFailure } from './iq-failure.js';

// XEP-0012 (Last Activity) on a meter's bare JID: the server answers for the account, so it
// works for a meter that is decoupled (PROTOCOL §3). What Prosody 0.12's mod_lastactivity answers
// (its source: /usr/lib/prosody/modules/mod_lastactivity.lua; proved against a real server by
// test/e2e/last-activity.test.ts):
// - the seconds since the account's last unavailable presence and that presence's status text
//   (Prosody's own "Disconnected: …" when it closed a dropped session), also while the account
//   is online again: it is "last logout", not idle time;
// - seconds='0' and no text when it has no logout in memory: an account that has not gone
//   offline since the server started, so every account after a server restart (the map is
//   in memory only). Only the caller can tell that "0" from "just now", so it is passed on as
//   the server said it;
// - auth/forbidden unless the asker is subscribed to the account's presence (the service is,
//   PROTOCOL §2), and so also for an account that does not exist.

export interface LastActivity {
  /** XEP-0012 §2: seconds since the account was last active (for Prosody: last went offline). */
  idleS: number;
  /** The status text of the account's last unavailable presence, if the server kept one. */
  statusText: string | null;
}

export type LastActivityOutcome = ({ kind: 'last' } & LastActivity) | IqFailure;

export type LastActivityQuerier = (
  meterId: string,
  timeoutMs: number,
) => Promise<LastActivityOutcome>;

export function buildLastActivityQuery(): Element {
  return xml('query', { xmlns: NS_LAST_ACTIVITY });
}

const answerSchema = z.object({
  // XEP-0012 §2: a non-negative integer number of seconds. Upper bound: 100 years.
  seconds: z
    .string()
    .regex(/^\d{1,10}$/, 'query/@seconds must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().max(100 * 366 * 86_400)),
  text: z.string().max(1024),
});

/** Reads the <query xmlns='jabber:iq:last'/> payload of a result IQ. Never throws. */
export function parseLastActivity(payload: Element | undefined): Parsed<LastActivity> {
  if (payload?.name !== 'query' || payload.attrs.xmlns !== NS_LAST_ACTIVITY) {
    return fail(`expected <query xmlns='${NS_LAST_ACTIVITY}'>`);
  }
  const parsed = answerSchema.safeParse({
    seconds: payload.attrs.seconds,
    text: payload.getText(),
  });
  if (!parsed.success) return fail(parsed.error.issues[0]?.message ?? 'bad last activity answer');
  const text = parsed.data.text.trim();
  return ok({ idleS: parsed.data.seconds, statusText: text === '' ? null : text });
}

export function createLastActivityQuerier(deps: {
  xmpp: Component;
  componentJid: string;
  domain: string;
}): LastActivityQuerier {
  const { xmpp, componentJid, domain } = deps;
  return async (meterId, timeoutMs) => {
    const iq = xml(
      'iq',
      { type: 'get', from: componentJid, to: meterBareJid(meterId, domain) },
      buildLastActivityQuery(),
    );
    try {
      const reply = await xmpp.iqCaller.request(iq, timeoutMs);
      const parsed = parseLastActivity(reply.getChild('query'));
      return parsed.ok ? { kind: 'last', ...parsed.value } : { kind: 'error', error: parsed.error };
    } catch (error) {
      return classifyIqFailure(error);
    }
  };
}
