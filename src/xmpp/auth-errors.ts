// Which errors mean "your credentials are wrong": retrying them cannot help.

// RFC 6120 §6.5 SASL failure conditions that a retry cannot cure.
const SASL_FATAL = new Set([
  'not-authorized',
  'account-disabled',
  'credentials-expired',
  'invalid-mechanism',
  'encryption-required',
]);

export function isClientAuthFailure(error: unknown): boolean {
  const e = error as { name?: string; condition?: string } | undefined;
  return e?.name === 'SASLError' && SASL_FATAL.has(e.condition ?? '');
}

/** XEP-0114 §3: a wrong handshake secret ends the stream with <not-authorized/>. */
export function isComponentAuthFailure(error: unknown): boolean {
  const e = error as { name?: string; condition?: string } | undefined;
  return e?.name === 'StreamError' && e.condition === 'not-authorized';
}
