import type { Client } from '@xmpp/client';
import type { Logger } from '../../src/log.js';
import type { MeterModel } from '../meter/model.js';
import type { AuditEntry } from '../security/audit-entry.js';

// STUB, being written (issue 3 §5): periodic readings, events at once and audit entries as
// messages to the presence service, through a durable outbox.

export interface ReportingControl {
  readonly intervalS: number;
  /** PROTOCOL §4 reporting: 5–86400 s; takes effect at once and survives restarts. */
  setIntervalS(seconds: number): void;
}

export interface Telemetry {
  readonly reporting: ReportingControl;
  /** Queues an audit entry for the service (PROTOCOL §2). */
  sendAudit(entry: AuditEntry): void;
  /** The XMPP session can carry stanzas (true) or was lost (false). */
  setReady(ready: boolean): void;
  stop(): Promise<void>;
}

export function startTelemetry(deps: {
  xmpp: Client;
  meter: MeterModel;
  meterId: string;
  serviceJid: string;
  dataDir: string;
  logger: Logger;
}): Telemetry {
  void deps;
  let intervalS = 60;
  return {
    reporting: {
      get intervalS() {
        return intervalS;
      },
      setIntervalS(seconds) {
        intervalS = seconds;
      },
    },
    sendAudit() {},
    setReady() {},
    async stop() {},
  };
}
