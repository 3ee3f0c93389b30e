// What a failed IQ to a meter means, for every poll (status query, ping, last activity): the
// server answering for a meter without a session, silence, or another error reply.

export type IqFailure =
  /** The server answered for the meter: no session (RFC 6121 §8.5.3.1). */
  { kind: 'offline'; condition: string } | { kind: 'timeout' } | { kind: 'error'; error: string };

const OFFLINE_CONDITIONS = new Set([
  'service-unavailable',
  'recipient-unavailable',
  'item-not-found',
]);

/** Classifies what xmpp.js's iqCaller.request() threw. */
export function classifyIqFailure(error: unknown): IqFailure {
  const e = error as { name?: string; condition?: string; message?: string };
  if (e.name === 'TimeoutError') return { kind: 'timeout' };
  if (e.name === 'StanzaError' && OFFLINE_CONDITIONS.has(e.condition ?? '')) {
    return { kind: 'offline', condition: e.condition as string };
  }
  return { kind: 'error', error: e.condition ?? e.message ?? String(error) };
}
