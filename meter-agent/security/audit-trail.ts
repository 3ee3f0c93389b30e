import type { Logger } from '../../src/log.js';
import type { AuditEntry, AuditSink } from './audit-entry.js';

// STUB, being written (issue 3 §4): the agent's local audit file, appended and rotated.

export interface AuditTrail extends AuditSink {
  close(): void;
}

export function openAuditTrail(deps: { dataDir: string; logger: Logger }): AuditTrail {
  return {
    record(entry: AuditEntry) {
      deps.logger.info({ audit: entry }, 'audit');
    },
    close() {},
  };
}
