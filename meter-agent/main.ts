import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { ERROR_CODES, EXIT, GridpresenceError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { createLogLevelControl, isLogLevel } from '../src/log-level.js';
import { AGENT_RESOURCE } from '../src/protocol/meter-id.js';
import { isClientAuthFailure } from '../src/xmpp/auth-errors.js';
import { createBackoff } from '../src/xmpp/backoff.js';
import { type SupervisedEntity, superviseConnection } from '../src/xmpp/connection-supervisor.js';
import { createClient } from '../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../src/xmpp/workarounds/await-stream-management.js';
import { installCommands } from './commands/install-commands.js';
import { type AgentConfig, serviceJidOf } from './config.js';
import type { ControlRequest } from './control/control-protocol.js';
import { refuseSecondAgent, startControlServer } from './control/control-server.js';
import { createMeter } from './meter/create-meter.js';
import { isSimulationInjection, SIMULATION_INJECTIONS } from './meter/injections.js';
import { deriveState } from './presence/derive-state.js';
import { createModeController } from './presence/mode-controller.js';
import { createPresenceTracker, toRfc3339 } from './presence/presence-tracker.js';
import { openSeqStore } from './presence/seq-store.js';
import { createAcl } from './security/acl.js';
import { openAuditTrail } from './security/audit-trail.js';
import { hideFromStrangers } from './security/iq-privacy.js';
import { startTelemetry } from './telemetry/start-telemetry.js';
import { answerDiscoInfo } from './xmpp/disco-handler.js';
import { createPresenceAnnouncer } from './xmpp/presence-announcer.js';
import { answerStatusQueries } from './xmpp/status-query-handler.js';
import {
  handleSubscriptionRequests,
  revokeStaleSubscriptions,
} from './xmpp/subscription-handler.js';

// The meter agent's composition root: wires the meter, the presence logic, the XMPP session and
// the control socket. Everything it starts, stop() releases.

export interface RunningAgent {
  /** Announces `decoupled`/shutdown, closes the session and releases everything. */
  stop(): Promise<void>;
  /** Resolves with the process exit code once the agent has ended (stop or fatal error). */
  readonly exited: Promise<number>;
  /** Resolves when the first session is ready (fleet mode paces its logins with it). */
  readonly firstOnline: Promise<void>;
  /** Why the agent ended on its own, if it did (e.g. the login was refused). */
  readonly failure: GridpresenceError | undefined;
}

export async function startAgent(config: AgentConfig, logger: Logger): Promise<RunningAgent> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The seq, the audit trail and the control socket are this agent's alone.
  chmodSync(config.dataDir, 0o700);
  await refuseSecondAgent(config.dataDir);
  const startedAt = Date.now();
  const log = (module: string) => logger.child({ module });
  // The level this agent's logger has now (a fleet's LOG_LEVEL, or log.level): what a temporary
  // `log-level` change returns to.
  const logLevel = createLogLevelControl({
    logger,
    configured: isLogLevel(logger.level) ? logger.level : config.log.level,
  });
  const serviceJid = serviceJidOf(config);
  const acl = createAcl(config.acl, serviceJid);

  // meter.driver: the simulated meter or a SunSpec meter over Modbus (docs/modbus.md).
  const meter = await createMeter(config, { logger: log('meter') });
  const modeController = createModeController({
    dataDir: config.dataDir,
    now: () => new Date(),
    logger: log('modes'),
    onChange: () => reevaluate(),
    applyLoadLimit: (limitKw) => {
      if (meter.supportsLoadLimit) meter.setLoadLimit(limitKw);
    },
  });
  const initial = deriveState(meter.condition(), modeController.modes);
  const seqStore = openSeqStore(config.dataDir);
  const tracker = createPresenceTracker({
    seqStore,
    kind: config.kind,
    now: () => new Date(),
    initial,
  });

  const xmpp = await createClient({
    service: `xmpps://${config.xmpp.host}:${config.xmpp.port}`,
    domain: config.domain,
    username: config.meterId,
    password: config.xmpp.password,
    resource: AGENT_RESOURCE,
    caPem: config.xmpp.caFile ? readCa(config.xmpp.caFile) : undefined,
    keepAlive: {
      intervalMs: config.keepAlive.intervalS * 1000,
      timeoutMs: config.keepAlive.timeoutS * 1000,
    },
    logger: log('xmpp'),
  });
  const announcer = createPresenceAnnouncer({
    xmpp,
    logger: log('presence'),
    durable: (seq) => seqStore.durable(seq),
  });

  // PROTOCOL §1: announce the moment the cause happens, not at the next tick.
  const reevaluate = () => {
    const derived = deriveState(meter.condition(), modeController.modes);
    const changed = tracker.apply(derived.state, derived.reason);
    if (!changed) return;
    log('presence').info(
      { state: changed.state, reason: changed.reason?.code, seq: changed.seq },
      'state changed',
    );
    void announcer.announce(changed);
  };
  meter.onCondition(reevaluate);
  meter.onEvent((event) => {
    log('meter').info({ event }, 'meter event');
    // docs/liveness.md: every event re-announces the presence, changed or not.
    void announcer.announce(tracker.status);
  });
  // docs/liveness.md: the heartbeat the service counts on instead of pinging a healthy meter.
  const heartbeat =
    config.presence.heartbeatS > 0
      ? setInterval(
          () => void announcer.heartbeat(tracker.status, serviceJid),
          config.presence.heartbeatS * 1000,
        )
      : undefined;

  hideFromStrangers({ xmpp, acl, domain: config.domain, logger: log('security') });
  handleSubscriptionRequests({ xmpp, acl, logger: log('subscriptions') });
  const telemetry = startTelemetry({
    xmpp,
    meter,
    meterId: config.meterId,
    serviceJid,
    dataDir: config.dataDir,
    settings: config.telemetry,
    logger: log('telemetry'),
  });
  const auditTrail = openAuditTrail({ dataDir: config.dataDir, logger: log('audit') });
  const commands = installCommands({
    xmpp,
    acl,
    meter,
    modes: modeController,
    reporting: telemetry.reporting,
    // PROTOCOL §2: kept on the meter and reported to the service.
    audit: {
      record(entry) {
        auditTrail.record(entry);
        // Strangers' refusals stay in the local file (rotated, bounded): reporting them would
        // let anyone fill the outbox and push buffered readings out of it.
        if (entry.outcome === 'ok' || acl.allows(entry.from, 'viewer')) telemetry.sendAudit(entry);
      },
    },
    logger: log('commands'),
    now: () => new Date(),
    currentStatus: () => tracker.status,
    logLevel,
    ownJid: `${config.meterId}@${config.domain}`,
    serviceJid,
  });
  answerStatusQueries({
    xmpp,
    acl,
    logger: log('status'),
    // PROTOCOL §1: a seq leaves the meter only once it is on disk (seq-store.ts).
    currentStatus: async () => {
      const status = tracker.status;
      await seqStore.durable(status.seq);
      return status;
    },
  });
  answerDiscoInfo({ xmpp, meterId: config.meterId, kind: config.kind, acl, commands });

  let resolveFirstOnline: () => void = () => {};
  const firstOnline = new Promise<void>((resolve) => {
    resolveFirstOnline = resolve;
  });
  let fatalFailure: GridpresenceError | undefined;
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });

  const supervisor = superviseConnection({
    entity: xmpp as unknown as SupervisedEntity,
    isFatal: isClientAuthFailure,
    whenReady: () => awaitStreamManagement(xmpp),
    resumption: xmpp.streamManagement as unknown as NodeJS.EventEmitter,
    backoff: createBackoff({
      baseMs: config.reconnect.backoffBaseMs,
      maxMs: config.reconnect.backoffMaxMs,
      spreadMs: config.reconnect.spreadMs,
    }),
    logger: log('connection'),
    hooks: {
      async onReady(resumed) {
        announcer.setReady(true);
        telemetry.setReady(true);
        log('connection').info({ jid: xmpp.jid?.toString(), resumed }, 'online');
        resolveFirstOnline();
        if (resumed) {
          // XEP-0198 resumption: the server still holds our last presence; announce only news.
          if (announcer.lastSentSeq !== tracker.status.seq)
            await announcer.announce(tracker.status);
          return;
        }
        // A new session after a lost one: the meter was decoupled in between, so its current
        // state begins again now (new seq and since). A status never announced keeps its seq.
        if (announcer.lastSentSeq === tracker.status.seq) tracker.renew();
        await announcer.announce(tracker.status);
        revokeStaleSubscriptions({ xmpp, acl, logger: log('subscriptions') }).catch(
          (error: Error) =>
            log('subscriptions').warn({ err: error.message }, 'could not check the roster'),
        );
      },
      onDisconnected() {
        announcer.setReady(false);
        telemetry.setReady(false);
        log('connection').warn('connection lost');
      },
      onFatal(error) {
        const failure = new GridpresenceError(
          ERROR_CODES.AUTH_FAILED,
          `the server refused the login of ${config.meterId}@${config.domain}: ${error.message}`,
          { hint: 'check xmpp.password (or GP_XMPP_PASSWORD) and that the account exists' },
        );
        logger.fatal({ code: failure.code, hint: failure.hint }, failure.message);
        fatalFailure = failure;
        void shutdown(EXIT.AUTH, false);
      },
    },
  });

  // The optional e-mail channel (docs/liveness.md): polls by e-mail answered with the status.
  // Loaded only when configured: its mail libraries (mailparser, smtp-server, nodemailer) add
  // about 30 MB of RSS that an agent without e-mail should not carry (BENCHMARKS.md).
  const emailChannel = config.email
    ? await (await import('./email/email-channel.js')).startEmailChannel({
        settings: config.email,
        meterId: config.meterId,
        currentStatus: () => tracker.status,
        logger: log('email'),
      })
    : undefined;

  const control = await startControlServer({
    dataDir: config.dataDir,
    logger: log('control'),
    handle: (request) => handleControl(request),
  });

  function handleControl(request: ControlRequest): unknown {
    switch (request.op) {
      case 'status':
        return {
          meterId: config.meterId,
          jid: `${config.meterId}@${config.domain}/${AGENT_RESOURCE}`,
          pid: process.pid,
          uptimeS: Math.round((Date.now() - startedAt) / 1000),
          connected: supervisor.connected,
          reconnects: supervisor.reconnects,
          status: tracker.status,
          lastSentSeq: announcer.lastSentSeq,
          condition: meter.condition(),
          registers: meter.readRegisters(),
          reportingIntervalS: telemetry.reporting.intervalS,
          // STYLE §9: the outbox is bounded and measured; a technician sees what waits.
          outbox: { ...telemetry.outbox },
          logLevel: logLevel.state(),
          memory: process.memoryUsage(),
        };
      case 'inject': {
        if (!isSimulationInjection(request.name)) {
          throw new Error(
            `unknown injection '${request.name}'; known: ${SIMULATION_INJECTIONS.join(', ')}`,
          );
        }
        const atMs = preciseNow();
        meter.inject(request.name);
        return { status: tracker.status, atMs };
      }
      case 'maintenance': {
        const atMs = preciseNow();
        modeController.setMaintenance(request.enable ? (request.note ?? '') : null);
        return { status: tracker.status, atMs };
      }
      case 'log-level':
        return logLevel.set(request.level, request.minutes ?? 60, 'control socket');
      case 'activity': {
        const atMs = preciseNow();
        modeController.setActivity(
          request.code ? { code: request.code, text: request.text ?? request.code } : null,
        );
        return { status: tracker.status, atMs };
      }
    }
  }

  let stopping: Promise<void> | undefined;
  async function shutdown(code: number, announce: boolean): Promise<void> {
    stopping ??= (async () => {
      // First silence every source of change, so nothing is announced after the goodbye.
      clearInterval(heartbeat);
      commands.stop();
      logLevel.stop();
      modeController.stop();
      meter.stop();
      await control.close();
      await emailChannel?.close();
      if (announce && supervisor.connected) {
        // PROTOCOL §1: a graceful stop says so, with reason `shutdown`.
        const last = tracker.apply('decoupled', { code: 'shutdown', text: 'agent shut down' });
        if (last) await announcer.announce(last);
      }
      announcer.setReady(false);
      await telemetry.stop();
      await supervisor.stop();
      await seqStore.close();
      auditTrail.close();
      log('agent').info({ code }, 'stopped');
      resolveExit(code);
    })();
    return stopping;
  }

  meter.start();
  supervisor.start();
  log('agent').info(
    {
      meterId: config.meterId,
      server: `${config.xmpp.host}:${config.xmpp.port}`,
      since: toRfc3339(new Date()),
    },
    'agent started',
  );
  return {
    stop: () => shutdown(EXIT.OK, true),
    exited,
    firstOnline,
    get failure() {
      return fatalFailure;
    },
  };
}

/** Wall-clock ms with sub-ms precision, comparable across processes (latency measurement). */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new GridpresenceError(
      ERROR_CODES.CONFIG_UNREADABLE,
      `config key 'xmpp.caFile': cannot read ${file}`,
      {
        cause,
        hint: 'point xmpp.caFile at the PEM file of the CA that signed the server certificate',
      },
    );
  }
}
