import type { Logger } from '../../src/log.js';
import type { MeterState } from '../../src/protocol/states.js';
import type { PresenceRecorder } from '../presence/presence-recorder.js';
import type { PollKind, PollResult, PollStore } from '../store/poll-store.js';
import type { LastActivityQuerier } from '../xmpp/last-activity-querier.js';
import type { MeterPinger } from '../xmpp/meter-pinger.js';
import type { StatusQuerier } from '../xmpp/status-querier.js';

// One poll of one meter, and what its answer means (docs/liveness.md "Polling"). The scheduler
// decides whom to poll and when; this decides what an answer records:
// - status (PROTOCOL §3): the answer is recorded with source `query` ('changed' if it was news);
//   an offline answer records `decoupled`/`connection-lost`;
// - ping (XEP-0199, full JID): a pong, or any error reply, is a sign of life; offline as above,
//   with source `ping`;
// - last-activity (XEP-0012, bare JID): for decoupled meters only, stores when the server last
//   saw the meter;
// - email: sends an e-mail poll; its answer arrives later by mail and is recorded elsewhere.
// A poll that times out never declares a meter dead: it hands the meter to silent-death
// detection (`suspect`), which pings with its own tries and limits, so a slow meter is not a
// false alarm.

export type { PollKind, PollResult } from '../store/poll-store.js';

export type PollRunner = (
  kind: PollKind,
  meterId: string,
  timeoutMs: number,
) => Promise<PollResult>;

export type EmailPollOutcome = 'sent' | 'no-address' | 'failed';

export interface PollRunnerDeps {
  query: StatusQuerier;
  ping: MeterPinger;
  lastActivity: LastActivityQuerier;
  /** Sends one e-mail poll; absent when the service has no `email` section. */
  emailPoll?: (meterId: string) => Promise<EmailPollOutcome>;
  recorder: PresenceRecorder;
  currentState(meterId: string): MeterState | undefined;
  pollStore: Pick<PollStore, 'saveLastActivity'>;
  /** Silent-death detection: ping this meter soon, with its own tries (liveness-monitor.ts). */
  suspect(meterId: string): void;
  logger: Logger;
  now?: () => Date;
  /** Told of every poll's result (metrics); optional. */
  onResult?: (kind: PollKind, result: PollResult) => void;
}

export function createPollRunner(deps: PollRunnerDeps): PollRunner {
  const { recorder, logger } = deps;
  const now = deps.now ?? (() => new Date());

  const status = async (meterId: string, timeoutMs: number): Promise<PollResult> => {
    const askedAt = now();
    const outcome = await deps.query(meterId, timeoutMs);
    switch (outcome.kind) {
      case 'status':
        return recorder.status(meterId, outcome.status, 'query', now()) ? 'changed' : 'ok';
      case 'offline':
        recorder.gone(meterId, 'connection-lost', 'query', now(), askedAt);
        return 'offline';
      case 'timeout':
        deps.suspect(meterId);
        return 'timeout';
      case 'error':
        logger.warn({ meterId, error: outcome.error }, 'status poll failed');
        return 'error';
    }
  };

  const ping = async (meterId: string, timeoutMs: number): Promise<PollResult> => {
    const askedAt = now();
    const outcome = await deps.ping(meterId, timeoutMs);
    switch (outcome.kind) {
      case 'pong':
      case 'error': // XEP-0199 §4.1: an error reply is an answer too; the meter is there
        recorder.seen(meterId, now());
        return 'ok';
      case 'offline':
        recorder.gone(meterId, 'connection-lost', 'ping', now(), askedAt);
        return 'offline';
      case 'timeout':
        deps.suspect(meterId);
        return 'timeout';
    }
  };

  const lastActivity = async (meterId: string, timeoutMs: number): Promise<PollResult> => {
    // The server answers XEP-0012 for the account whether or not it is online, with the time
    // since its last logout: only for a decoupled meter does that say when it was last seen.
    if (deps.currentState(meterId) !== 'decoupled') return 'skipped';
    const askedAt = now();
    const outcome = await deps.lastActivity(meterId, timeoutMs);
    switch (outcome.kind) {
      case 'last':
        // Prosody keeps last activity in memory only: after a server restart it answers 0 s
        // and no text for everyone (last-activity-querier.ts). Storing that would claim the
        // meter was active just now, so the previous answer is kept; a meter that really left
        // within the second answers ≥ 1 s at the next poll.
        if (outcome.idleS === 0 && outcome.statusText === null) {
          logger.debug({ meterId }, 'server has no last activity for the meter');
          return 'ok';
        }
        deps.pollStore.saveLastActivity({
          meterId,
          idleS: outcome.idleS,
          lastActiveAt: new Date(askedAt.getTime() - outcome.idleS * 1000).toISOString(),
          statusText: outcome.statusText,
          askedAt: askedAt.toISOString(),
        });
        return 'ok';
      case 'timeout':
        // The server, not the meter, answers this: nothing to suspect the meter of.
        return 'timeout';
      case 'offline':
      case 'error': {
        const reason = outcome.kind === 'offline' ? outcome.condition : outcome.error;
        logger.warn(
          { meterId, error: reason, hint: LAST_ACTIVITY_HINTS[reason] },
          'last activity poll failed',
        );
        return 'error';
      }
    }
  };

  let warnedNoEmail = false;
  const email = async (meterId: string): Promise<PollResult> => {
    if (!deps.emailPoll) {
      // Config refuses an `email` schedule without the `email` section; say so once if wired wrong.
      if (!warnedNoEmail) logger.error('an email poll was asked for, but e-mail is not configured');
      warnedNoEmail = true;
      return 'error';
    }
    switch (await deps.emailPoll(meterId)) {
      case 'sent':
        return 'ok';
      case 'no-address':
        return 'skipped';
      case 'failed':
        return 'error';
    }
  };

  const byKind: Record<PollKind, (meterId: string, timeoutMs: number) => Promise<PollResult>> = {
    status,
    ping,
    'last-activity': lastActivity,
    email,
  };

  const pollOnce = async (
    kind: PollKind,
    meterId: string,
    timeoutMs: number,
  ): Promise<PollResult> => {
    try {
      return await byKind[kind](meterId, timeoutMs);
    } catch (error) {
      // A store write that failed, a querier bug: one meter's poll, not the run, fails.
      logger.error({ meterId, kind, err: (error as Error).message }, 'poll failed');
      return 'error';
    }
  };

  return async (kind, meterId, timeoutMs) => {
    const result = await pollOnce(kind, meterId, timeoutMs);
    deps.onResult?.(kind, result);
    return result;
  };
}

/** What Prosody 0.12 means by each refusal of XEP-0012 (test/e2e/last-activity.test.ts). */
const LAST_ACTIVITY_HINTS: Record<string, string> = {
  forbidden: "the service is not subscribed to the meter's presence, or the account does not exist",
  'service-unavailable': "the server does not answer XEP-0012: enable Prosody's mod_lastactivity",
};
