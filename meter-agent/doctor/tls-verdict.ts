import { type CheckOutcome, fail, ok, warn } from './check.js';

// Check 5's judgement, apart from the socket so it can be tested with any certificate story:
// Node/OpenSSL verification codes (X509_V_ERR_*, ERR_TLS_*) translated into what is wrong and
// what a technician should do.

/** Certificates closer to their end than this pass with a warning. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 24 * 3600 * 1000;

export interface PresentedCertificate {
  subject: string;
  issuer: string;
  /** The subjectAltName entries, e.g. ['DNS:grid.example', 'IP:10.0.0.1']. */
  altNames: string[];
  validFrom: Date;
  validTo: Date;
}

export interface TlsFacts {
  domain: string;
  /** xmpp.caFile, or undefined for the system CAs. */
  caFile: string | undefined;
  now: Date;
  /** The clock check's finding, when it found the clock wrong. */
  clockSuspect: string | undefined;
  certificate: PresentedCertificate;
  /** `authorizationError` of the TLS socket (an OpenSSL or Node code), undefined if verified. */
  errorCode: string | undefined;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'INVALID_CA',
]);

export function judgeCertificate(facts: TlsFacts): CheckOutcome {
  const { certificate: cert, errorCode: code, now } = facts;
  const trust = facts.caFile ? `the CA in ${facts.caFile}` : "this system's CAs";
  const names = cert.altNames.length > 0 ? cert.altNames.join(', ') : `CN ${cert.subject}`;
  const daysLeft = Math.floor((cert.validTo.getTime() - now.getTime()) / DAY_MS);
  const clockBeforeStart = now.getTime() < cert.validFrom.getTime();

  // The clock first: a clock in the past makes a good certificate look "not yet valid", and a
  // technician must not go and renew a certificate that is fine.
  if (code === 'CERT_NOT_YET_VALID') {
    return fail(
      `clock is wrong: the system clock (${iso(now)}) is before the server certificate's ` +
        `notBefore (${iso(cert.validFrom)}), so the certificate looks not yet valid [${code}]`,
      'set the system time (NTP: `timedatectl set-ntp true`); the certificate itself may be fine',
    );
  }
  // OpenSSL names only the first problem it met; a clock before notBefore is worth saying too.
  const clockNote = clockBeforeStart
    ? `; also, the system clock (${iso(now)}) is before the certificate's notBefore (${iso(cert.validFrom)}): the clock is wrong`
    : '';
  if (code === 'CERT_HAS_EXPIRED') {
    if (facts.clockSuspect) {
      return fail(
        `clock is wrong: by the system clock (${iso(now)}) the certificate expired on ` +
          `${iso(cert.validTo)}, but the clock check found the clock implausible`,
        'set the system time (NTP) first, then run doctor again',
      );
    }
    return fail(
      `the server certificate expired on ${iso(cert.validTo)} (${-daysLeft} days ago by this ` +
        `system's clock, ${iso(now)}) [CERT_HAS_EXPIRED]`,
      "the server's operator must renew its certificate; if the clock here is wrong, set it (NTP)",
    );
  }
  if (code !== undefined && UNTRUSTED.has(code)) {
    return fail(
      `the server certificate (issuer: ${cert.issuer}) is not signed by ${trust} [${code}]${clockNote}`,
      `wrong caFile? point xmpp.caFile at the PEM of the CA that issued the server certificate (${cert.issuer})`,
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return fail(
      `hostname mismatch: the server certificate names ${names}, not the XMPP domain ${facts.domain} [${code}]${clockNote}`,
      `check \`domain\` (the server's XMPP domain) and that xmpp.host:xmpp.port leads to that XMPP server, not a proxy or another service; or have its certificate issued for ${facts.domain}`,
    );
  }
  if (code !== undefined) {
    return fail(
      `the server certificate was not accepted [${code}] (subject ${cert.subject}, issuer ${cert.issuer})${clockNote}`,
      `check it with: openssl s_client -connect <host>:<port> -servername ${facts.domain}` +
        (facts.caFile ? ` -CAfile ${facts.caFile}` : ''),
    );
  }
  const summary =
    `certificate for ${names} issued by ${cert.issuer}, valid until ${iso(cert.validTo)} ` +
    `(${daysLeft} days left), verified against ${trust} for ${facts.domain}`;
  if (daysLeft < EXPIRY_WARNING_DAYS) {
    return warn(
      `${summary}: expires in under ${EXPIRY_WARNING_DAYS} days`,
      "the server's operator should renew the certificate now; meters will refuse it once it expires",
    );
  }
  return ok(summary);
}

/** A TLS handshake that did not complete (no certificate to judge). */
export function judgeHandshakeError(
  error: NodeJS.ErrnoException,
  where: string,
  domain: string,
): CheckOutcome {
  const code = error.code ?? '';
  const message = error.message ?? '';
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /wrong version number|packet length too long/i.test(message)
  ) {
    return fail(
      `${where} does not speak TLS at once [${code || 'wrong version number'}]: it is not a direct-TLS (XEP-0368) port`,
      "set xmpp.port to the server's direct-TLS port (usually 5223), not the STARTTLS port 5222",
    );
  }
  // RFC 6066 §3: the server has no certificate (no virtual host) for the name we asked for.
  if (code === 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' || /unrecognized name/i.test(message)) {
    return fail(
      `${where} does not serve the XMPP domain ${domain}: it refused the TLS handshake for that name [unrecognized_name]`,
      `check \`domain\` in the config: it must be the XMPP domain this server hosts`,
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return fail(
      `${where} closed the connection during the TLS handshake [${code}]`,
      `the server may have no certificate for ${domain} (check \`domain\`), or a middlebox cuts TLS`,
    );
  }
  return fail(
    `the TLS handshake with ${where} failed: ${code ? `[${code}] ` : ''}${message}`,
    `check with: openssl s_client -connect ${where} -servername ${domain}`,
  );
}

const iso = (date: Date) =>
  Number.isNaN(date.getTime()) ? 'an unknown time' : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
