import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { ParsedMail } from 'mailparser';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { SmtpListener } from '../config/email-schemas.js';
import { ERROR_CODES, GridpresenceError } from '../errors.js';
import type { Logger } from '../log.js';

// The SMTP listener both ends receive with (docs/liveness.md, e-mail polling): the service gets
// replies, the agent gets polls. It is a final destination for a handful of addresses, never a
// relay: no AUTH (nobody submits through it), unknown recipients refused at RCPT, messages bounded
// in size and count. With a certificate it offers STARTTLS and refuses to take mail without it
// (RFC 3207 §4: 530 before MAIL FROM), so a poll or a reply never crosses the wire in clear text.
// What to do with a message is the owner's decision: onMail accepts it by returning and refuses
// it by throwing MailRejected, which becomes the reply to the final dot of DATA.

/** A message as the owner sees it: envelope and the headers that matter, parsed and bounded. */
export interface ReceivedMail {
  /** MAIL FROM, lower case; '' for the null sender (a bounce). */
  envelopeFrom: string;
  /** The accepted RCPT TO addresses, lower case. */
  recipients: string[];
  /** The single address of the From header, lower case; null if absent, repeated or a list. */
  fromHeader: string | null;
  subject: string;
  /** With angle brackets, as in the header. */
  messageId: string | null;
  inReplyTo: string | null;
  /** Unstructured headers by lower-case name, every value in order (e.g. x-gridpresence-poll). */
  headers: ReadonlyMap<string, readonly string[]>;
  /** The text/plain body; '' if the message has none. */
  text: string;
  receivedAt: Date;
  /** Whether the message came over TLS. */
  secure: boolean;
  remoteAddress: string;
}

/** Thrown by onMail to refuse a message; `code` is the SMTP reply code (4xx retry, 5xx never). */
export class MailRejected extends Error {
  readonly responseCode: number;

  constructor(code: number, message: string) {
    super(message);
    if (!Number.isInteger(code) || code < 400 || code > 599) {
      throw new RangeError(`an SMTP rejection code is 400-599, not ${code}`);
    }
    this.name = 'MailRejected';
    this.responseCode = code;
  }
}

export interface RunningSmtpListener {
  /** The bound port (the real one when the settings say 0). */
  readonly port: number;
  /** Stops accepting, lets sessions in progress finish (at most CLOSE_TIMEOUT_MS), resolves. */
  close(): Promise<void>;
}

/** Concurrent SMTP sessions; polls and replies are a trickle, a flood waits its turn. */
const MAX_CLIENTS = 64;
/** Recipients per message: ours are addressed to one mailbox. */
const MAX_RECIPIENTS = 8;
/** An idle session is dropped after this long (RFC 5321 §4.5.3.2 allows shorter than 5 min). */
const SOCKET_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 5_000;

export async function startSmtpListener(deps: {
  settings: SmtpListener;
  /** The name in the greeting, e.g. the mail domain. */
  serverName: string;
  /** Whether mail for this (lower-case) address is ours; others are refused at RCPT. */
  acceptsRecipient(address: string): boolean;
  onMail(mail: ReceivedMail): Promise<void>;
  logger: Logger;
  /** The clock for receivedAt (STYLE §7). */
  now?: () => Date;
}): Promise<RunningSmtpListener> {
  const { settings, logger, now = () => new Date() } = deps;
  const tls = await readTlsFiles(settings);
  const requireTls = tls !== undefined;

  const server = new SMTPServer({
    name: deps.serverName,
    banner: 'Gridpresence',
    // Final destination only: nobody authenticates to submit mail through us.
    disabledCommands: requireTls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideSTARTTLS: false,
    ...(tls ?? {}),
    minVersion: 'TLSv1.2',
    size: settings.maxBytes,
    maxClients: MAX_CLIENTS,
    maxRecipients: MAX_RECIPIENTS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    closeTimeout: CLOSE_TIMEOUT_MS,
    // A reverse lookup per connection would let any client make us wait on DNS.
    disableReverseLookup: true,
    // smtp-server's own log would be a second, unstructured one; we log decisions below.
    logger: false,

    onMailFrom(_address, session, callback) {
      if (requireTls && !session.secure) {
        logger.warn({ remote: session.remoteAddress }, 'refused mail without STARTTLS');
        return callback(new MailRejected(530, 'Must issue a STARTTLS command first'));
      }
      callback();
    },

    onRcptTo(address, session, callback) {
      const recipient = address.address.toLowerCase();
      if (!deps.acceptsRecipient(recipient)) {
        logger.info({ recipient, remote: session.remoteAddress }, 'refused mail for a stranger');
        return callback(new MailRejected(550, `no mailbox <${recipient}> here`));
      }
      callback();
    },

    onData(stream, session, callback) {
      readMessage(stream, settings.maxBytes)
        .then(async (raw) => {
          if (raw === undefined) {
            logger.warn({ remote: session.remoteAddress }, 'refused an oversized message');
            throw new MailRejected(552, `message exceeds ${settings.maxBytes} bytes`);
          }
          const parsed = await simpleParser(raw, {
            skipHtmlToText: true,
            skipTextToHtml: true,
            skipImageLinks: true,
          });
          await deps.onMail(receivedMail(parsed, session, now()));
          callback();
        })
        .catch((error: unknown) => {
          if (error instanceof MailRejected) return callback(error);
          logger.error({ err: (error as Error).message }, 'could not handle a message');
          // 451: the sender keeps the message and tries again; our fault, not its.
          callback(new MailRejected(451, 'local error in processing; try again later'));
        });
    },
  });
  server.on('error', (error: Error) => {
    // Per-connection failures (a client that hangs up mid-TLS) land here; they are not fatal.
    logger.debug({ err: error.message }, 'smtp session error');
  });

  await listen(server, settings.host, settings.port);
  const port = (server.server.address() as AddressInfo).port;
  logger.info({ host: settings.host, port, starttls: requireTls }, 'smtp listener started');

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closing;
    },
  };
}

async function readTlsFiles(
  settings: SmtpListener,
): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if (settings.certFile === undefined || settings.keyFile === undefined) return undefined;
  try {
    const [key, cert] = await Promise.all([
      readFile(settings.keyFile),
      readFile(settings.certFile),
    ]);
    return { key, cert };
  } catch (cause) {
    throw new GridpresenceError(
      ERROR_CODES.CONFIG_UNREADABLE,
      `incoming.certFile/keyFile: ${(cause as Error).message}`,
      { cause, hint: 'both must be readable PEM files' },
    );
  }
}

/** The whole message, or undefined once it is over the limit (the rest is read and dropped). */
function readMessage(stream: SMTPServerDataStream, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    stream.on('end', () => {
      resolve(size > maxBytes || stream.sizeExceeded ? undefined : Buffer.concat(chunks));
    });
    stream.on('error', reject);
  });
}

function receivedMail(parsed: ParsedMail, session: SMTPServerSession, at: Date): ReceivedMail {
  const { mailFrom, rcptTo } = session.envelope;
  return {
    envelopeFrom: mailFrom ? mailFrom.address.toLowerCase() : '',
    recipients: rcptTo.map((r) => r.address.toLowerCase()),
    fromHeader: singleFromAddress(parsed),
    subject: parsed.subject ?? '',
    messageId: parsed.messageId ?? null,
    inReplyTo: parsed.inReplyTo ?? null,
    headers: unstructuredHeaders(parsed),
    text: parsed.text ?? '',
    receivedAt: at,
    secure: session.secure,
    remoteAddress: session.remoteAddress,
  };
}

/** RFC 5322 §3.6: exactly one From header; we also want exactly one mailbox in it. */
function singleFromAddress(parsed: ParsedMail): string | null {
  const fromHeaders = parsed.headerLines.filter((line) => line.key === 'from').length;
  const mailboxes = parsed.from?.value ?? [];
  if (fromHeaders !== 1 || mailboxes.length !== 1) return null;
  const address = mailboxes[0]?.address;
  return address ? address.toLowerCase() : null;
}

function unstructuredHeaders(parsed: ParsedMail): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (const [name, value] of parsed.headers) {
    if (typeof value === 'string') headers.set(name, [value]);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      headers.set(name, value as string[]);
    }
  }
  return headers;
}

function listen(server: SMTPServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.server.once('error', onError);
    server.listen(port, host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
}
