import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createCommandCatalogue } from '../../../meter-agent/commands/catalogue.js';
import type { CommandDefinition } from '../../../meter-agent/commands/command.js';
import { createDispatcher, type Dispatcher } from '../../../meter-agent/commands/dispatcher.js';
import { trackRecentEvents } from '../../../meter-agent/commands/recent-events.js';
import {
  createSimulatedMeter,
  type SimulatedMeter,
  systemClock,
} from '../../../meter-agent/meter/simulated-meter.js';
import {
  createModeController,
  type ModeController,
} from '../../../meter-agent/presence/mode-controller.js';
import { createAcl } from '../../../meter-agent/security/acl.js';
import type { AuditEntry } from '../../../meter-agent/security/audit-entry.js';
import {
  createRateLimiter,
  type RateLimitSettings,
} from '../../../meter-agent/security/rate-limiter.js';
import { silentLogger } from '../../../src/log.js';
import { createLogLevelControl, type LogLevelControl } from '../../../src/log-level.js';
import type { MeterStatus } from '../../../src/protocol/meter-status.js';

// The command layer without sockets (STYLE §7): a simulated meter on a hand-driven clock, the
// real mode controller in a temp dir, the real catalogue, dispatcher and rate limiter.

export const JIDS = {
  admin: 'root@grid.example/laptop',
  operator: 'op@grid.example/gajim',
  viewer: 'viewer@grid.example/phone',
  stranger: 'mallory@evil.example/x',
  service: 'presence.grid.example',
} as const;

export interface CommandFixture {
  dispatcher: Dispatcher;
  commands: CommandDefinition[];
  meter: SimulatedMeter;
  modes: ModeController;
  audit: AuditEntry[];
  reporting: { intervalS: number; setIntervalS(s: number): void };
  logLevel: LogLevelControl;
  /** Every activity the mode controller showed, in order (null = none). */
  activities: Array<string | null>;
  clock: { ms: number };
  status: MeterStatus;
  cleanup(): void;
}

export function commandFixture(
  options: {
    supportsRelay?: boolean;
    rateLimit?: RateLimitSettings;
    commands?: (c: CommandDefinition[]) => CommandDefinition[];
  } = {},
): CommandFixture {
  const dataDir = mkdtempSync(join(tmpdir(), 'gp-cmd-'));
  const clock = { ms: Date.parse('2026-11-27T14:00:00Z') };
  const now = () => new Date(clock.ms);
  const meter = createSimulatedMeter({
    meterId: 'mtr-0001',
    seed: 1,
    eventRatePerHour: 0,
    supportsRelay: options.supportsRelay ?? true,
    clock: { ...systemClock, now },
  });
  const activities: Array<string | null> = [];
  const modes: ModeController = createModeController({
    dataDir,
    now,
    logger: silentLogger(),
    onChange: () => activities.push(modes.modes.activity?.code ?? null),
    applyLoadLimit: (kw) => meter.setLoadLimit(kw),
  });
  const reporting = {
    intervalS: 60,
    setIntervalS(seconds: number) {
      reporting.intervalS = seconds;
    },
  };
  const status: MeterStatus = {
    state: 'available',
    seq: 7,
    since: '2026-11-27T13:00:00Z',
    kind: 'revenue-meter',
  };
  const recentEvents = trackRecentEvents(meter);
  // A logger at info that writes nowhere: the `log-level` command changes its level.
  const logLevel = createLogLevelControl({
    logger: pino({ level: 'info' }, { write: () => {} }),
    configured: 'info',
    now,
  });
  const catalogue = createCommandCatalogue({
    meter,
    modes,
    reporting,
    recentEvents,
    currentStatus: () => status,
    logLevel,
  });
  const commands = options.commands ? options.commands(catalogue) : catalogue;
  const audit: AuditEntry[] = [];
  const acl = createAcl(
    [
      { jid: 'root@grid.example', role: 'admin' },
      { jid: 'op@grid.example', role: 'operator' },
      { jid: 'viewer@grid.example', role: 'viewer' },
    ],
    JIDS.service,
  );
  const dispatcher = createDispatcher({
    commands,
    acl,
    rateLimiter: createRateLimiter(
      options.rateLimit ?? { burst: 1000, refillPerS: 1000, maxSenders: 100 },
      () => clock.ms,
    ),
    modes,
    audit: { record: (entry) => audit.push(entry) },
    logger: silentLogger(),
    now,
    rateExempt: (jid) => jid === JIDS.service,
  });
  return {
    dispatcher,
    commands,
    meter,
    modes,
    audit,
    reporting,
    logLevel,
    activities,
    clock,
    status,
    cleanup() {
      logLevel.stop();
      recentEvents.stop();
      modes.stop();
      meter.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
