// WORKAROUND (issue 6, reconnect storm): xmpp.js runs SASL (and SASL2) as a `procedure` that
// listens for `nonza` elements on the entity until the server answers `<success/>` or
// `<failure/>` (@xmpp/events procedure.js). When the connection drops in the middle, nothing
// settles it and its listener stays on the entity. On the next connection of the same client it
// answers the new server's challenge with the old attempt's nonce (Prosody: "malformed-request -
// Wrong nonce in client-final-message"), and on the new `<success/>` it restarts the stream a
// second time (Prosody: invalid-namespace, not-well-formed). In the storm of 10,000 meters after
// a Prosody restart that failed about 4,000 logins, and every failed attempt left one more
// listener behind. A new connection belongs to a new attempt: whatever an earlier one left
// listening is dropped, and its promise is never settled (nobody waits for it any more: the
// supervisor already gave that attempt up). Remove when xmpp.js settles procedures on disconnect.

interface NonzaEmitter {
  on(event: 'status', listener: (status: string) => void): unknown;
  listeners(event: 'nonza'): ((...args: unknown[]) => unknown)[];
  removeListener(event: 'nonza', listener: (...args: unknown[]) => unknown): unknown;
}

/** Call once, right after the client is made: its listeners by then are the permanent ones. */
export function dropStaleNonzaListeners(entity: NonzaEmitter): void {
  const permanent = new Set(entity.listeners('nonza'));
  entity.on('status', (status) => {
    if (status !== 'connecting') return;
    for (const listener of entity.listeners('nonza')) {
      if (!permanent.has(listener)) entity.removeListener('nonza', listener);
    }
  });
}
