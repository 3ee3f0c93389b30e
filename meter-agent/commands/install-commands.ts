import type { Client } from '@xmpp/client';
import type { Logger } from '../../src/log.js';
import type { LogLevelControl } from '../../src/log-level.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import type { MeterModel } from '../meter/model.js';
import type { ModeController } from '../presence/mode-controller.js';
import type { Acl } from '../security/acl.js';
import type { AuditSink } from '../security/audit-entry.js';
import {
  createRateLimiter,
  DEFAULT_COMMAND_RATE_LIMIT,
  type RateLimitSettings,
} from '../security/rate-limiter.js';
import type { ReportingControl } from '../telemetry/start-telemetry.js';
import { answerAdhocCommands } from '../xmpp/adhoc-handler.js';
import { answerChatCommands } from '../xmpp/chat-handler.js';
import type { CommandCatalog } from '../xmpp/disco-handler.js';
import { answerRegisterQueries } from '../xmpp/register-query-handler.js';
import { createAdhocSessions, DEFAULT_SESSION_SETTINGS } from './adhoc-sessions.js';
import { createCommandCatalogue } from './catalogue.js';
import { createDispatcher } from './dispatcher.js';
import { trackRecentEvents } from './recent-events.js';

// Issue 3 §1–§4: the six commands of PROTOCOL §4 (and the chat-only `help` and `status` of §5)
// behind one dispatcher, with the XEP-0050 and chat front doors. Everything started here,
// stop() releases.

export interface InstalledCommands extends CommandCatalog {
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
  /** The meter's current presence status (chat `status`). */
  currentStatus: () => MeterStatus;
  /** The agent's log level (the `log-level` extension, docs/protocol.md). */
  logLevel: LogLevelControl;
  /** The meter's bare JID and the presence service's (chat loop guards). */
  ownJid: string;
  serviceJid: string;
  /** Per-sender limit (PROTOCOL §2); defaults: burst 10, 1 per second. */
  rateLimit?: RateLimitSettings;
}): InstalledCommands {
  const { xmpp, acl, meter, modes, reporting, audit, logger, now } = deps;
  const recentEvents = trackRecentEvents(meter);

  const commands = createCommandCatalogue({
    meter,
    modes,
    reporting,
    recentEvents,
    currentStatus: deps.currentStatus,
    logLevel: deps.logLevel,
  });

  const dispatcher = createDispatcher({
    commands,
    acl,
    rateLimiter: createRateLimiter(deps.rateLimit ?? DEFAULT_COMMAND_RATE_LIMIT),
    rateExempt: (jid) => jid === deps.serviceJid.toLowerCase(),
    modes,
    audit,
    logger,
    now,
  });
  answerRegisterQueries({ xmpp, dispatcher, now, logger: logger.child({ door: 'iq' }) });
  answerAdhocCommands({
    xmpp,
    dispatcher,
    sessions: createAdhocSessions(DEFAULT_SESSION_SETTINGS),
    logger: logger.child({ door: 'adhoc' }),
  });
  const chat = answerChatCommands({
    xmpp,
    dispatcher,
    serviceJid: deps.serviceJid,
    ownJid: deps.ownJid,
    logger: logger.child({ door: 'chat' }),
  });

  // Command nodes of this meter, whoever asks (disco: forbidden rather than item-not-found).
  const nodes = new Set(
    commands
      .filter((c) => (c.doors ?? ['adhoc']).includes('adhoc') && c.supported !== false)
      .map((c) => c.node),
  );
  return {
    listFor: (jid) =>
      dispatcher.availableTo(jid, 'adhoc').map((c) => ({ node: c.node, name: c.label })),
    has: (node) => nodes.has(node),
    stop() {
      chat.stop();
      recentEvents.stop();
    },
  };
}
