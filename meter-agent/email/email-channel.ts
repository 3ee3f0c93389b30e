import {
  MailRejected,
  type ReceivedMail,
  type RunningSmtpListener,
  startSmtpListener,
} from '../../src/email/smtp-listener.js';
import { createSmtpSender } from '../../src/email/smtp-sender.js';
import type { Logger } from '../../src/log.js';
import { buildReplyMail, POLL_HEADER_KEY, parsePollMail } from '../../src/protocol/email-poll.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import type { AgentConfig } from '../config.js';
import { createRateLimiter } from '../security/rate-limiter.js';

// The agent's optional e-mail channel (docs/liveness.md; wire format in
// src/protocol/email-poll.ts): answers the presence service's e-mail polls with the meter's
// current <meter/> status. It must not become a tool for anybody else, so it
//   - takes mail only for the meter's own address (others refused at RCPT);
//   - answers only polls whose envelope sender and From header are the configured service
//     address (anything else is refused with 550 and logged);
//   - sends every reply to the configured service address and nowhere else: a Reply-To or a
//     forged sender cannot turn the meter into a reflector that mails a third party;
//   - answers each token once, and at most one poll per `minReplyIntervalMs` (a forged poll
//     flood costs the service one mail per interval, not one per forgery): a poll over the
//     limit is refused with 450, which a relay retries later by itself.
// The reply goes out after the poll is accepted, not inside its SMTP transaction: the two
// directions may use different relays, and one slow hop must not hold the other.

export interface EmailChannel {
  /** The poll listener's port (the bound one when the settings say 0). */
  readonly port: number;
  /** Stops taking polls, waits for replies on their way, closes the connections. */
  close(): Promise<void>;
}

/** At most one reply per this many ms by default. */
export const DEFAULT_MIN_REPLY_INTERVAL_MS = 5_000;
/** Tokens remembered as answered; a replay older than this many polls is refused by the service. */
const REMEMBERED_TOKENS = 1024;

export async function startEmailChannel(deps: {
  settings: NonNullable<AgentConfig['email']>;
  meterId: string;
  currentStatus: () => MeterStatus;
  logger: Logger;
  minReplyIntervalMs?: number;
  now?: () => Date;
}): Promise<EmailChannel> {
  const { settings, meterId, logger, now = () => new Date() } = deps;
  const minReplyIntervalMs = deps.minReplyIntervalMs ?? DEFAULT_MIN_REPLY_INTERVAL_MS;
  const limiter = createRateLimiter(
    { burst: 1, refillPerS: 1000 / Math.max(1, minReplyIntervalMs), maxSenders: 1 },
    () => now().getTime(),
  );
  const answered = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const sender = createSmtpSender(settings.outgoing, logger.child({ part: 'smtp-out' }));
  const service = settings.serviceAddress;

  const refuse = (code: number, message: string, mail: ReceivedMail, why: string): MailRejected => {
    logger.warn(
      { why, mailFrom: mail.envelopeFrom, fromHeader: mail.fromHeader, remote: mail.remoteAddress },
      'e-mail poll refused',
    );
    return new MailRejected(code, message);
  };

  const reply = async (token: string, poll: ReceivedMail): Promise<void> => {
    const status = deps.currentStatus();
    const content = buildReplyMail(token, status);
    try {
      await sender.send({
        from: settings.address,
        to: service,
        ...content,
        ...(poll.messageId ? { inReplyTo: poll.messageId } : {}),
      });
      logger.info({ meterId, state: status.state, seq: status.seq }, 'answered an e-mail poll');
    } catch (error) {
      // Mail is not retried here: the service polls again on its schedule.
      logger.warn({ meterId, err: (error as Error).message }, 'e-mail poll reply not sent');
    }
  };

  const onMail = async (mail: ReceivedMail): Promise<void> => {
    if (mail.envelopeFrom !== service || mail.fromHeader !== service) {
      throw refuse(
        550,
        'polls are answered for the presence service only',
        mail,
        'not the service',
      );
    }
    const poll = parsePollMail({
      subject: mail.subject,
      pollHeaders: mail.headers.get(POLL_HEADER_KEY) ?? [],
      text: mail.text,
    });
    if (!poll.ok) throw refuse(550, `not a Gridpresence poll: ${poll.error}`, mail, poll.error);
    const { token } = poll.value;
    if (answered.has(token)) throw refuse(550, 'poll already answered', mail, 'duplicate token');
    const rate = limiter.take('service');
    if (!rate.allowed) {
      const message = `polled too often; retry in ${Math.ceil(rate.retryAfterMs / 1000)} s`;
      // Logged once per run of refusals: the flood itself must not flood the log.
      if (rate.refusedInRow === 1) throw refuse(450, message, mail, 'rate limit');
      throw new MailRejected(450, message);
    }
    remember(answered, token);
    const sending = reply(token, mail).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };

  let listener: RunningSmtpListener;
  try {
    listener = await startSmtpListener({
      settings: settings.incoming,
      serverName: settings.address.slice(settings.address.lastIndexOf('@') + 1),
      acceptsRecipient: (address) => address === settings.address,
      onMail,
      logger: logger.child({ part: 'smtp-in' }),
      now,
    });
  } catch (error) {
    sender.close();
    throw error;
  }

  return {
    port: listener.port,
    async close() {
      await listener.close();
      await Promise.allSettled([...inFlight]);
      sender.close();
    },
  };
}

/** A Set that forgets its oldest entries past REMEMBERED_TOKENS (STYLE §9). */
function remember(tokens: Set<string>, token: string): void {
  tokens.add(token);
  if (tokens.size > REMEMBERED_TOKENS) {
    const oldest = tokens.values().next().value;
    if (oldest !== undefined) tokens.delete(oldest);
  }
}
