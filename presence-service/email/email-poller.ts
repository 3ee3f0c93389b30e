import { randomUUID } from 'node:crypto';
import {
  MailRejected,
  type ReceivedMail,
  type RunningSmtpListener,
  startSmtpListener,
} from '../../src/email/smtp-listener.js';
import { createSmtpSender, SmtpSendError } from '../../src/email/smtp-sender.js';
import type { Logger } from '../../src/log.js';
import {
  buildPollMail,
  newPollToken,
  POLL_HEADER_KEY,
  parseReplyBody,
  readPollToken,
} from '../../src/protocol/email-poll.js';
import type { EmailConfig } from '../config.js';
import type { PresenceRecorder } from '../presence/presence-recorder.js';
import type { Database } from '../store/database.js';
import {
  createEmailPollStore,
  type EmailPollRecord,
  type EmailRejectReason,
} from '../store/email-poll-store.js';

// E-mail polling, the service's end (docs/liveness.md; wire format in src/protocol/email-poll.ts).
// A poll is a mail with a fresh 128-bit token to the meter's registered address; the reply comes
// back to our own SMTP listener and is believed only if
//   1. it names a token we sent                     (else 'unknown-token'),
//   2. its envelope sender and its From header are both the address that poll went to
//                                                   (else 'forged'),
//   3. that poll has not been answered yet          (else 'duplicate'),
//   4. it arrives before the poll expires           (else 'late'; the poll is marked expired),
//   5. its body is the status answer of PROTOCOL §3 (else 'malformed', and a protocol error).
// Checks run in that order so that a stranger learns nothing about a poll it could not answer
// and cannot change its outcome. Every rejection is refused at the end of DATA with 550 and the
// reason, logged, and kept in email_rejects. Without DKIM/SPF an envelope can be forged; the
// token is what a forger lacks, the address checks are what a leaked token alone is not enough for.

export type EmailPollResult = 'sent' | 'no-address' | 'failed';

/** What became of an e-mail poll (metrics): sent or not, then answered or expired. */
export type EmailPollFate = 'sent' | 'send-failed' | 'no-address' | 'answered' | 'expired';

export interface EmailPoller {
  /** Starts the reply listener and the expiry sweep. */
  start(): Promise<void>;
  /** Sends one poll now. 'failed': the next hop did not take it (logged, kept as send-failed). */
  poll(meterId: string): Promise<EmailPollResult>;
  /** A meter's polls, newest first, for the API. */
  recentPolls(meterId: string, limit: number): EmailPollRecord[];
  stop(): Promise<void>;
  /** The reply listener's port; 0 before start(). */
  readonly port: number;
}

/** Settled polls are kept this long for the API, then deleted (STYLE §9: bounded tables). */
const KEEP_POLLS_MS = 7 * 24 * 3600 * 1000;
/** Rejected replies kept; a flood of forgeries must not fill the disk. */
const KEEP_REJECTS = 10_000;
const PRUNE_EVERY_MS = 3600 * 1000;

export function createEmailPoller(deps: {
  config: EmailConfig;
  db: Database;
  /** The meter's registered e-mail address; null if it has none (or is not registered). */
  meterAddress(meterId: string): string | null;
  recorder: Pick<PresenceRecorder, 'status' | 'protocolError' | 'gone'>;
  logger: Logger;
  now?: () => Date;
  /** How often pending polls past their expiry are marked expired. */
  sweepEveryMs?: number;
  /** Told of every poll's outcome as it happens (metrics); optional. */
  onPollOutcome?: (outcome: EmailPollFate) => void;
  /** Told of every reply refused, with the reason (metrics); optional. */
  onReplyRejected?: (reason: EmailRejectReason) => void;
}): EmailPoller {
  const { config, db, recorder, logger, now = () => new Date(), sweepEveryMs = 5_000 } = deps;
  const store = createEmailPollStore({ db });
  const sender = createSmtpSender(config.outgoing, logger.child({ part: 'smtp-out' }));
  const mailDomain = config.address.slice(config.address.lastIndexOf('@') + 1);
  let listener: RunningSmtpListener | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let lastPruneMs = 0;

  /** Refuses a reply: stored and logged; the error returned is the SMTP answer to DATA. */
  const reject = (
    mail: ReceivedMail,
    reason: EmailRejectReason,
    detail: string,
    poll: { token: string | null; meterId: string | null },
    smtpText: string,
  ): MailRejected => {
    store.recordReject({
      receivedAt: mail.receivedAt.toISOString(),
      mailFrom: mail.envelopeFrom,
      token: poll.token,
      meterId: poll.meterId,
      reason,
      detail,
    });
    deps.onReplyRejected?.(reason);
    logger.warn(
      {
        reason,
        meterId: poll.meterId ?? undefined,
        // The token is a secret until answered: enough of it to find the row, no more.
        poll: poll.token?.slice(0, 8),
        mailFrom: mail.envelopeFrom,
        fromHeader: mail.fromHeader,
        remote: mail.remoteAddress,
        detail,
      },
      'e-mail reply rejected',
    );
    return new MailRejected(550, `rejected (${reason}): ${smtpText}`);
  };

  // Synchronous from the first lookup to the last write, so two copies of one reply arriving
  // together cannot both pass the duplicate check.
  const acceptReply = (mail: ReceivedMail): void => {
    const token = readPollToken({
      subject: mail.subject,
      pollHeaders: mail.headers.get(POLL_HEADER_KEY) ?? [],
    });
    if (!token.ok) {
      throw reject(mail, 'malformed', token.error, { token: null, meterId: null }, token.error);
    }
    const poll = store.get(token.value);
    const ref = { token: token.value, meterId: poll?.meterId ?? null };
    if (!poll) {
      throw reject(mail, 'unknown-token', 'no poll was sent with this token', ref, 'no such poll');
    }
    const expected = poll.address.toLowerCase();
    if (mail.envelopeFrom !== expected || mail.fromHeader !== expected) {
      const detail =
        mail.envelopeFrom !== expected
          ? `envelope sender <${mail.envelopeFrom}> is not the meter's <${expected}>`
          : `From header ${mail.fromHeader ? `<${mail.fromHeader}>` : '(missing, repeated or a list)'} is not the meter's <${expected}>`;
      throw reject(mail, 'forged', detail, ref, 'the sender is not the polled meter');
    }
    if (poll.outcome === 'answered') {
      const detail = `poll already answered at ${poll.answeredAt}`;
      throw reject(mail, 'duplicate', detail, ref, 'poll already answered');
    }
    if (poll.outcome === 'expired' || mail.receivedAt.toISOString() > poll.expiresAt) {
      // Still pending: the sweep has not expired it yet, and now it never will; count it here.
      if (poll.outcome === 'pending') deps.onPollOutcome?.('expired');
      store.markExpired(token.value, 'a reply came after the expiry');
      const detail = `poll expired at ${poll.expiresAt}`;
      throw reject(mail, 'late', detail, ref, 'poll expired');
    }
    const status = parseReplyBody(mail.text);
    if (!status.ok) {
      recorder.protocolError(
        poll.meterId,
        `e-mail reply: ${status.error}`,
        mail.text,
        mail.receivedAt,
      );
      throw reject(mail, 'malformed', status.error, ref, status.error);
    }
    // One transaction: the poll is answered and the state recorded, or neither.
    db.transaction(() => {
      store.markAnswered(token.value, mail.receivedAt.toISOString());
      recorder.status(poll.meterId, status.value, 'email', mail.receivedAt);
    })();
    deps.onPollOutcome?.('answered');
    logger.info(
      { meterId: poll.meterId, state: status.value.state, seq: status.value.seq },
      'e-mail poll answered',
    );
  };

  const sweep = (): void => {
    const at = now();
    const expired = store.expireDue(at.toISOString());
    if (expired.length > 0) {
      logger.info(
        { count: expired.length, meterIds: expired.slice(0, 10).map((p) => p.meterId) },
        'e-mail polls expired without a reply',
      );
    }
    // An unanswered poll is the e-mail meter's silence: decoupled/no-response, source email.
    // The recorder drops it when the meter was heard from after the poll went out (a meter
    // that is also online over XMPP), so only a meter silent on every channel is affected.
    for (const poll of expired) {
      deps.onPollOutcome?.('expired');
      recorder.gone(poll.meterId, 'no-response', 'email', at, new Date(poll.sentAt));
    }
    if (at.getTime() - lastPruneMs >= PRUNE_EVERY_MS) {
      lastPruneMs = at.getTime();
      const pruned = store.prune(
        new Date(at.getTime() - KEEP_POLLS_MS).toISOString(),
        KEEP_REJECTS,
      );
      if (pruned.polls + pruned.rejects > 0) logger.debug(pruned, 'pruned old e-mail polls');
    }
  };

  return {
    async start() {
      if (listener) return;
      listener = await startSmtpListener({
        settings: config.incoming,
        serverName: mailDomain,
        acceptsRecipient: (address) => address === config.address,
        onMail: async (mail) => acceptReply(mail),
        logger: logger.child({ part: 'smtp-in' }),
        now,
      });
      sweepTimer = setInterval(() => {
        try {
          sweep();
        } catch (error) {
          logger.error({ err: (error as Error).message }, 'e-mail poll sweep failed');
        }
      }, sweepEveryMs);
    },

    async poll(meterId) {
      if (!listener)
        throw new Error('email poller: start() before poll(): replies need the listener');
      const address = deps.meterAddress(meterId);
      if (!address) {
        deps.onPollOutcome?.('no-address');
        return 'no-address';
      }
      const token = newPollToken();
      const sentAt = now();
      const messageId = `<${randomUUID()}@${mailDomain}>`;
      store.insert({
        token,
        meterId,
        address,
        messageId,
        sentAt: sentAt.toISOString(),
        expiresAt: new Date(sentAt.getTime() + config.replyTimeoutS * 1000).toISOString(),
      });
      const mail = buildPollMail(token);
      try {
        await sender.send({ from: config.address, to: address, messageId, ...mail });
      } catch (error) {
        const e = error as Error;
        store.markSendFailed(token, e.message);
        logger.warn(
          {
            meterId,
            to: address,
            err: e.message,
            code: e instanceof SmtpSendError ? e.code : undefined,
          },
          'e-mail poll not sent',
        );
        deps.onPollOutcome?.('send-failed');
        return 'failed';
      }
      deps.onPollOutcome?.('sent');
      logger.debug({ meterId, messageId }, 'e-mail poll sent');
      return 'sent';
    },

    recentPolls(meterId, limit) {
      return store.recent(meterId, limit);
    },

    async stop() {
      if (sweepTimer) clearInterval(sweepTimer);
      sweepTimer = undefined;
      sender.close();
      await listener?.close();
      listener = undefined;
    },

    get port() {
      return listener?.port ?? 0;
    },
  };
}
