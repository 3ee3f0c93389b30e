import type { Client } from '@xmpp/client';
import type { Logger } from '../../src/log.js';
import type { MeterModel } from '../meter/model.js';
import type { AuditEntry } from '../security/audit-entry.js';
import { auditDraft, eventDraft, readingDraft } from './data-drafts.js';
import { createDataSender, type DataLink } from './data-sender.js';
import { type DataDraft, type OutboxStats, openOutbox } from './outbox.js';
import { createReportingSchedule, type ReportingControl } from './reporting.js';

// Telemetry (PROTOCOL §6, and the audit report of §2): a reading every reporting interval, every
// meter event at once, and each audit entry, all through the durable outbox to the presence
// service. Taking a reading does not depend on the connection: offline, items wait on disk.

export type { ReportingControl } from './reporting.js';
export { REPORTING_INTERVAL_S } from './reporting.js';

export interface TelemetrySettings {
  /** Seconds between readings until an operator sets another. */
  intervalS: number;
  /** Bound on unacknowledged data on disk; the oldest readings go first. */
  outboxMaxBytes: number;
}

export interface Telemetry {
  readonly reporting: ReportingControl;
  /** Queues an audit entry for the service (PROTOCOL §2). */
  sendAudit(entry: AuditEntry): void;
  /** The XMPP session can carry stanzas (true) or was lost (false). */
  setReady(ready: boolean): void;
  /** Outbox figures (for the status report and tests). */
  readonly outbox: OutboxStats;
  stop(): Promise<void>;
}

export function startTelemetry(deps: {
  xmpp: Client;
  meter: MeterModel;
  meterId: string;
  serviceJid: string;
  dataDir: string;
  settings: TelemetrySettings;
  logger: Logger;
  /** The clock readings are stamped with (STYLE §7). */
  now?: () => Date;
}): Telemetry {
  const { meter, serviceJid, dataDir, settings, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const outbox = openOutbox({ dir: dataDir, maxBytes: settings.outboxMaxBytes, logger });
  const sender = createDataSender({
    // xmpp.js's typings leave out that streamManagement is an EventEmitter.
    xmpp: deps.xmpp as unknown as DataLink,
    outbox,
    serviceJid,
    logger,
  });
  let stopped = false;

  const enqueue = (draft: DataDraft): void => {
    if (stopped) {
      logger.warn({ kind: draft.kind }, 'telemetry stopped: item not queued');
      return;
    }
    outbox.put(draft).then(
      (item) => {
        if (item) sender.notify(item.seq);
      },
      (error: Error) => logger.error({ kind: draft.kind, err: error.message }, 'item not queued'),
    );
  };

  const schedule = createReportingSchedule({
    dataDir,
    configuredS: settings.intervalS,
    onTick: () => enqueue(readingDraft(meter.readRegisters(), now(), outbox.stats.items)),
    logger,
  });
  // PROTOCOL §6: an event goes out the moment it happens, not with the next reading.
  const unsubscribe = meter.onEvent((event) => enqueue(eventDraft(event)));
  schedule.start();
  logger.info(
    { intervalS: schedule.intervalS, pending: outbox.stats.items, lastSeq: outbox.stats.lastSeq },
    'telemetry started',
  );

  return {
    reporting: {
      get intervalS() {
        return schedule.intervalS;
      },
      setIntervalS: (seconds) => schedule.setIntervalS(seconds),
    },
    sendAudit(entry) {
      enqueue(auditDraft(entry));
    },
    setReady(ready) {
      sender.setReady(ready);
    },
    get outbox() {
      return outbox.stats;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      schedule.stop();
      await sender.stop();
      await outbox.close();
    },
  };
}
