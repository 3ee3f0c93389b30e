import type { Database } from './database.js';

// E-mail polls and rejected replies (docs/liveness.md; tables of migration 5). A poll is written
// before its mail leaves, so a reply that comes back faster than the send resolves still finds
// it. Every outcome change is one conditional UPDATE: a poll is answered at most once, whatever
// arrives twice.

export type EmailPollOutcome = 'pending' | 'answered' | 'expired' | 'send-failed';
export type EmailRejectReason = 'late' | 'forged' | 'malformed' | 'unknown-token' | 'duplicate';

export interface EmailPollRecord {
  /** The poll's secret: whoever shows it may answer (from the meter's address). */
  token: string;
  meterId: string;
  /** The meter's address the poll went to; the reply must come from it. */
  address: string;
  messageId: string;
  sentAt: string;
  expiresAt: string;
  outcome: EmailPollOutcome;
  answeredAt: string | null;
  detail: string | null;
}

export interface EmailRejectInput {
  receivedAt: string;
  /** The envelope sender ('' for a bounce). */
  mailFrom: string;
  token: string | null;
  meterId: string | null;
  reason: EmailRejectReason;
  detail: string;
}

export interface EmailRejectRecord extends EmailRejectInput {
  id: number;
}

export interface EmailPollStore {
  insert(poll: Omit<EmailPollRecord, 'outcome' | 'answeredAt' | 'detail'>): void;
  get(token: string): EmailPollRecord | undefined;
  /** pending → send-failed; false if the poll was already settled (say, answered meanwhile). */
  markSendFailed(token: string, detail: string): boolean;
  /** pending or send-failed → answered; false if it was not open. */
  markAnswered(token: string, answeredAt: string): boolean;
  /** pending → expired; false if it was not pending. */
  markExpired(token: string, detail: string): boolean;
  /** Marks every pending poll whose expiry is at or before `at` expired, and returns them. */
  expireDue(at: string): EmailPollRecord[];
  /** A meter's polls, newest first. */
  recent(meterId: string, limit: number): EmailPollRecord[];
  recordReject(input: EmailRejectInput): void;
  /** Rejected replies, newest first; of one meter when given. */
  rejects(limit: number, meterId?: string): EmailRejectRecord[];
  /** Deletes settled polls sent before `sentBefore`, and all but the newest `keepRejects`. */
  prune(sentBefore: string, keepRejects: number): { polls: number; rejects: number };
}

const POLL_COLUMNS = `token, meter_id AS meterId, address, message_id AS messageId, sent_at AS sentAt,
  expires_at AS expiresAt, outcome, answered_at AS answeredAt, detail`;

const REJECT_COLUMNS = `id, received_at AS receivedAt, mail_from AS mailFrom, token,
  meter_id AS meterId, reason, detail`;

export function createEmailPollStore({ db }: { db: Database }): EmailPollStore {
  const insertPoll = db.prepare(`
    INSERT INTO email_polls (token, meter_id, address, message_id, sent_at, expires_at, outcome)
    VALUES (@token, @meterId, @address, @messageId, @sentAt, @expiresAt, 'pending')`);
  const selectPoll = db.prepare(`SELECT ${POLL_COLUMNS} FROM email_polls WHERE token = ?`);
  const updateSendFailed = db.prepare(`
    UPDATE email_polls SET outcome = 'send-failed', detail = ?
    WHERE token = ? AND outcome = 'pending'`);
  // A poll whose send "failed" may still have left (a timeout after the final dot), so its
  // authentic reply is still taken.
  const updateAnswered = db.prepare(`
    UPDATE email_polls SET outcome = 'answered', answered_at = ?
    WHERE token = ? AND outcome IN ('pending', 'send-failed')`);
  const updateExpired = db.prepare(`
    UPDATE email_polls SET outcome = 'expired', detail = ?
    WHERE token = ? AND outcome = 'pending'`);
  const updateDue = db.prepare(`
    UPDATE email_polls SET outcome = 'expired', detail = 'no reply before expiry'
    WHERE outcome = 'pending' AND expires_at <= ?
    RETURNING ${POLL_COLUMNS}`);
  const selectRecent = db.prepare(
    `SELECT ${POLL_COLUMNS} FROM email_polls WHERE meter_id = ? ORDER BY sent_at DESC, token LIMIT ?`,
  );
  const insertReject = db.prepare(`
    INSERT INTO email_rejects (received_at, mail_from, token, meter_id, reason, detail)
    VALUES (@receivedAt, @mailFrom, @token, @meterId, @reason, @detail)`);
  const selectRejects = db.prepare(
    `SELECT ${REJECT_COLUMNS} FROM email_rejects ORDER BY id DESC LIMIT ?`,
  );
  const selectMeterRejects = db.prepare(
    `SELECT ${REJECT_COLUMNS} FROM email_rejects WHERE meter_id = ? ORDER BY id DESC LIMIT ?`,
  );
  const deleteOldPolls = db.prepare(
    "DELETE FROM email_polls WHERE sent_at < ? AND outcome != 'pending'",
  );
  const deleteOldRejects = db.prepare(
    'DELETE FROM email_rejects WHERE id <= (SELECT max(id) FROM email_rejects) - ?',
  );

  return {
    insert(poll) {
      insertPoll.run(poll);
    },
    get(token) {
      return selectPoll.get(token) as EmailPollRecord | undefined;
    },
    markSendFailed(token, detail) {
      return updateSendFailed.run(detail, token).changes > 0;
    },
    markAnswered(token, answeredAt) {
      return updateAnswered.run(answeredAt, token).changes > 0;
    },
    markExpired(token, detail) {
      return updateExpired.run(detail, token).changes > 0;
    },
    expireDue(at) {
      return updateDue.all(at) as EmailPollRecord[];
    },
    recent(meterId, limit) {
      return selectRecent.all(meterId, limit) as EmailPollRecord[];
    },
    recordReject(input) {
      insertReject.run(input);
    },
    rejects(limit, meterId) {
      const rows =
        meterId === undefined ? selectRejects.all(limit) : selectMeterRejects.all(meterId, limit);
      return rows as EmailRejectRecord[];
    },
    prune(sentBefore, keepRejects) {
      return {
        polls: deleteOldPolls.run(sentBefore).changes,
        rejects: deleteOldRejects.run(keepRejects).changes,
      };
    },
  };
}
