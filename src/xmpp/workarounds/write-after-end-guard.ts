// WORKAROUND: with thousands of logins at once against a loaded server, @xmpp/client 0.14 lets
// errors of a login that is failing anyway escape as unhandled promise rejections (seen: a SASL
// response written to a socket the server had just closed, ERR_STREAM_WRITE_AFTER_END from
// @xmpp/sasl through Connection.write; a `not-well-formed` StreamError during the stream
// restart; a TypeError from Connection.write when the SASL response comes after the socket was
// torn down). Node turns those into a process crash: one meter's failed login took down a fleet
// process of 2,500 meters. The connection is gone either way and the supervisor reconnects it
// with backoff, so such a rejection is reported and dropped. Any other unhandled rejection
// still ends the process, as Node would.

/** Errors of a write to a socket that has already ended: the link is gone, nothing else. */
const WRITE_ON_CLOSED_SOCKET = new Set(['ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_DESTROYED']);

/** A failure of one XMPP connection: a dead socket, or an error the server sent on the stream. */
export function isWriteOnClosedSocket(reason: unknown): boolean {
  const error = reason as { code?: unknown; name?: unknown } | null;
  if (typeof error?.code === 'string' && WRITE_ON_CLOSED_SOCKET.has(error.code)) return true;
  if (!(error instanceof Error)) return false;
  // @xmpp/error's StreamError: the server ended this stream (RFC 6120 §4.9).
  if (error.name === 'StreamError') return true;
  // Thrown inside xmpp.js's connection code itself (e.g. writing through a socket it has
  // already dropped): a failure of that one connection, which the supervisor's watchdog retries.
  const firstFrame = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  return firstFrame?.includes('/node_modules/@xmpp/connection/') === true;
}

let installed = false;

export function installWriteAfterEndGuard(
  warn: (reason: Error) => void = (reason) =>
    process.emitWarning(`dropped a write to a closed XMPP socket: ${reason.message}`),
): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    if (isWriteOnClosedSocket(reason)) {
      warn(reason as Error);
      return;
    }
    // Node's own behaviour for everything else (--unhandled-rejections=throw).
    throw reason;
  });
}
