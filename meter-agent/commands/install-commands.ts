import type { Client } from '@xmpp/client';
import type { Logger } from '../../src/log.js';
import type { MeterModel } from '../meter/model.js';
import type { ModeController } from '../presence/mode-controller.js';
import type { Acl } from '../security/acl.js';
import type { AuditSink } from '../security/audit-entry.js';
import type { ReportingControl } from '../telemetry/start-telemetry.js';

// STUB, being written (issue 3 §1–§4): the six commands of PROTOCOL §4 behind one dispatcher,
// with the XEP-0050 and chat front doors.

export interface InstalledCommands {
  stop(): void;
}

export function installCommands(deps: {
  xmpp: Client;
  acl: Acl;
  meter: MeterModel;
  modes: ModeController;
  reporting: ReportingControl;
  audit: AuditSink;
  logger: Logger;
  now: () => Date;
}): InstalledCommands {
  void deps;
  return { stop() {} };
}
