import type { Logger } from '../../src/log.js';
import { boundedMap } from '../../src/util/bounded-map.js';
import type { StatusQuerier } from '../xmpp/status-querier.js';
import type { PresenceRecorder } from './presence-recorder.js';

// XMPP-NOTES: a presence sent to a component that is disconnected is bounced and lost. So on
// every (re)connect the service asks every meter for its status (PROTOCOL §3) and records what
// changed while it was away; seq gaps show what it missed.

export interface RecoveryReport {
  meters: number;
  online: number;
  offline: number;
  timedOut: number;
  errors: number;
  changes: number;
  durationMs: number;
}

export async function recoverCurrentStates(deps: {
  meterIds: readonly string[];
  query: StatusQuerier;
  recorder: PresenceRecorder;
  concurrency: number;
  timeoutMs: number;
  logger: Logger;
  /** True once a newer recovery (after a reconnect) has made this one pointless. */
  cancelled?: () => boolean;
}): Promise<RecoveryReport> {
  const { query, recorder, logger } = deps;
  const started = Date.now();
  const report: RecoveryReport = {
    meters: deps.meterIds.length,
    online: 0,
    offline: 0,
    timedOut: 0,
    errors: 0,
    changes: 0,
    durationMs: 0,
  };
  let lastProgressLog = started;
  await boundedMap(
    deps.meterIds,
    deps.concurrency,
    async (meterId) => {
      if (deps.cancelled?.()) return;
      const askedAt = new Date();
      const outcome = await query(meterId, deps.timeoutMs);
      if (deps.cancelled?.()) return;
      const now = new Date();
      switch (outcome.kind) {
        case 'status':
          report.online += 1;
          if (recorder.status(meterId, outcome.status, 'query', now)) report.changes += 1;
          return;
        case 'offline':
          report.offline += 1;
          if (recorder.gone(meterId, 'connection-lost', 'query', now, askedAt)) report.changes += 1;
          return;
        case 'timeout':
          // Silent-death detection (pings, tries, no-response) decides about these.
          report.timedOut += 1;
          return;
        case 'error':
          report.errors += 1;
          logger.warn({ meterId, error: outcome.error }, 'status query failed');
          return;
      }
    },
    (done, total) => {
      if (Date.now() - lastProgressLog >= 2_000) {
        lastProgressLog = Date.now();
        logger.info({ done, total }, 'recovering meter states');
      }
    },
  );
  report.durationMs = Date.now() - started;
  logger.info(report, 'meter states recovered');
  return report;
}
