import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type { SmtpOutgoing } from '../config/email-schemas.js';
import { ERROR_CODES, GridpresenceError } from '../errors.js';
import type { Logger } from '../log.js';

// Sends polls (service) and replies (agent) over SMTP with nodemailer (docs/liveness.md, e-mail
// polling). Secure by default: `starttls` refuses to go on without TLS (requireTLS), `tls` is
// implicit TLS, and either verifies the certificate against the configured CA and name, never
// switched off (PROTOCOL §8). `none` is clear text, for a private network only. The password is
// handed to nodemailer and nowhere else: not logged, not in errors.

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  headers?: Record<string, string>;
  /** The Message-ID replied to; also sent as References (RFC 5322 §3.6.4). */
  inReplyTo?: string;
  /** With angle brackets; nodemailer makes one when left out. */
  messageId?: string;
}

export interface SmtpSender {
  /** Resolves once the next hop has accepted the message; rejects with SmtpSendError. */
  send(mail: OutgoingMail): Promise<{ messageId: string }>;
  /** Closes idle connections; a delivery in progress finishes first. */
  close(): void;
}

/** Why a message was not accepted: nodemailer's code (ETIMEDOUT, ETLS, EENVELOPE, EMESSAGE…). */
export class SmtpSendError extends Error {
  readonly code: string;
  /** The SMTP reply code when the server refused (e.g. 550), else undefined. */
  readonly responseCode: number | undefined;

  constructor(message: string, code: string, responseCode: number | undefined) {
    super(message);
    this.name = 'SmtpSendError';
    this.code = code;
    this.responseCode = responseCode;
  }
}

/** Connections kept to the next hop: polls go out in bursts, replies one at a time. */
const MAX_CONNECTIONS = 2;

export function createSmtpSender(settings: SmtpOutgoing, logger: Logger): SmtpSender {
  const ca = settings.caFile === undefined ? undefined : readCa(settings.caFile);
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: MAX_CONNECTIONS,
    host: settings.host,
    port: settings.port,
    secure: settings.security === 'tls',
    requireTLS: settings.security === 'starttls',
    ignoreTLS: settings.security === 'none',
    // Node checks the certificate against `servername` when given, else against the host (an IP
    // then needs an IP SAN). Only a name goes into SNI (RFC 6066 §3 forbids IP literals there).
    ...(settings.servername ? { servername: settings.servername } : {}),
    tls: {
      ...(ca ? { ca } : {}),
      ...(settings.servername ? { servername: settings.servername } : {}),
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    ...(settings.user !== undefined
      ? { auth: { user: settings.user, pass: settings.password } }
      : {}),
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
    dnsTimeout: settings.timeoutMs,
    logger: false,
    debug: false,
    // We send text we built; nothing may make nodemailer read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  });

  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          headers: mail.headers,
          ...(mail.messageId ? { messageId: mail.messageId } : {}),
          ...(mail.inReplyTo ? { inReplyTo: mail.inReplyTo, references: mail.inReplyTo } : {}),
          // The timeouts above are per phase; this bounds the message as a whole, as the
          // setting promises, and takes it off the pool's queue if it never got a connection.
          signal: AbortSignal.timeout(settings.timeoutMs),
        });
        logger.debug({ to: mail.to, messageId: info.messageId }, 'mail accepted by the next hop');
        return { messageId: info.messageId };
      } catch (error) {
        throw toSendError(error, settings);
      }
    },
    close() {
      transport.close();
    },
  };
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new GridpresenceError(
      ERROR_CODES.CONFIG_UNREADABLE,
      `outgoing.caFile: ${(cause as Error).message}`,
      { cause, hint: 'caFile must be a readable PEM file of the CA that signed the relay' },
    );
  }
}

function toSendError(error: unknown, settings: SmtpOutgoing): SmtpSendError {
  const e = error as { message?: string; code?: string; responseCode?: number; name?: string };
  const code =
    e.code ?? (e.name === 'AbortError' || e.name === 'TimeoutError' ? 'ETIMEDOUT' : 'ESEND');
  const where = `${settings.host}:${settings.port}`;
  return new SmtpSendError(`${where}: ${e.message ?? String(error)}`, code, e.responseCode);
}
