import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createAcl } from '../meter-agent/security/acl.js';
import { ERROR_CODES, EXIT, GridpresenceError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { createAlertService } from './alerts/alert-service.js';
import { createAlertStore } from './alerts/alert-store.js';
import { createAccessControl } from './auth/access-control.js';
import { createCommandClient } from './commands/command-client.js';
import { componentJidOf, type ServiceConfig } from './config.js';
import { handleMeterData } from './data/data-handler.js';
import { createDataRecorder } from './data/data-recorder.js';
import { createDataStore } from './data/data-store.js';
import { createOutboxBacklog } from './data/outbox-backlog.js';
import { createEmailPoller } from './email/email-poller.js';
import { createGroupCommands } from './groups/group-commands.js';
import { buildHttpApi } from './http/build-http-api.js';
import { createDashboardQueries } from './http/dashboard-routes.js';
import { resolveLivenessLimits } from './liveness/liveness-limits.js';
import { createLivenessMonitor } from './liveness/liveness-monitor.js';
import { countProtocolErrors } from './metrics/count-protocol-errors.js';
import { createMetrics } from './metrics/metrics.js';
import { systemClock } from './polling/clock.js';
import { createPollRunner } from './polling/poll-runner.js';
import { createPollScheduler } from './polling/poll-scheduler.js';
import { createDemandResponseService } from './power/demand-response-service.js';
import { createDrStore } from './power/dr-store.js';
import { createChangeBus } from './presence/change-bus.js';
import { createPresenceRecorder } from './presence/presence-recorder.js';
import { recoverCurrentStates } from './presence/recovery.js';
import { openDatabase } from './store/database.js';
import { createExportQueries } from './store/export-queries.js';
import { createGroupDirectory } from './store/group-directory.js';
import { createJobStore } from './store/job-store.js';
import { createMeterRegistry } from './store/meter-registry.js';
import { createPollStore } from './store/poll-store.js';
import { createPresenceStore } from './store/presence-store.js';
import { watchForeignCommits } from './store/registry-watch.js';
import { alertAckers, answerAlertChat, createAlertSender } from './xmpp/alert-chat-handler.js';
import { createComponentConnection } from './xmpp/component-connection.js';
import { answerComponentQueries } from './xmpp/component-info.js';
import { createComponentKeepAlive } from './xmpp/component-keepalive.js';
import { answerGroupChat } from './xmpp/group-chat-handler.js';
import { createLastActivityQuerier } from './xmpp/last-activity-querier.js';
import { createMeterPinger } from './xmpp/meter-pinger.js';
import { handleMeterPresence } from './xmpp/presence-handler.js';
import { createServerPinger, serverAnsweringCheck } from './xmpp/server-pinger.js';
import { createStatusQuerier } from './xmpp/status-querier.js';
import { createSubscriptionManager } from './xmpp/subscription-manager.js';

// The presence service's composition root: the store, the component connection, the presence
// pipeline and the HTTP API. Everything it starts, stop() releases.

export interface RunningService {
  /** Where the HTTP API listens, e.g. http://127.0.0.1:8080. */
  readonly apiUrl: string;
  stop(): Promise<void>;
  /** Resolves with the process exit code once the service has ended. */
  readonly exited: Promise<number>;
  /** Why the service ended on its own, if it did (e.g. the component secret was refused). */
  readonly failure: GridpresenceError | undefined;
}

export async function startService(config: ServiceConfig, logger: Logger): Promise<RunningService> {
  const log = (module: string) => logger.child({ module });
  const componentJid = componentJidOf(config);
  const db = openDatabase(config.database.path);
  const registry = createMeterRegistry({ db });
  // Prometheus metrics (docs/metrics.md): sources are read on each scrape; the modules below
  // report what they observe through optional hooks.
  const backlog = createOutboxBacklog();
  const metrics = createMetrics({
    meterCounts: () => store.counts(),
    outboxBacklog: () => backlog.summary(),
    xmppOnline: () => xmppState === 'online',
  });
  // Wrapped so that every protocol error (presence, data, e-mail) is counted once.
  const store = countProtocolErrors(createPresenceStore({ db }), metrics);
  const bus = createChangeBus();
  bus.subscribe(metrics.stateChanged);
  const recorder = createPresenceRecorder({ store, bus, logger: log('recorder') });
  const isMeter = (meterId: string) => registry.get(meterId) !== undefined;
  const data = createDataStore({ db });
  const protocolError = store.recordProtocolError.bind(store);

  let fatalFailure: GridpresenceError | undefined;
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  let xmppState: 'online' | 'offline' | 'connecting' = 'connecting';
  let recoveryGeneration = 0;

  const connection = await createComponentConnection({
    host: config.component.host,
    port: config.component.port,
    jid: componentJid,
    secret: config.component.secret,
    backoffBaseMs: config.component.reconnect.backoffBaseMs,
    backoffMaxMs: config.component.reconnect.backoffMaxMs,
    onReconnected: metrics.xmppReconnected,
    logger: log('component'),
    onOnline: async () => {
      xmppState = 'online';
      keepAlive.start();
      liveness.setOnline(true);
      const generation = ++recoveryGeneration;
      try {
        await subscriptions.subscribePending();
      } catch (error) {
        // Retried on the next connect and on every registry change; recovery matters more.
        log('subscriptions').warn({ err: (error as Error).message }, 'subscribing failed');
      }
      await recoverCurrentStates({
        meterIds: registry.ids(),
        query: statusQuery,
        recorder,
        concurrency: config.recovery.queryConcurrency,
        timeoutMs: config.recovery.queryTimeoutMs,
        logger: log('recovery'),
        // A reconnect starts a new sweep; the old one stops asking.
        cancelled: () => generation !== recoveryGeneration || xmppState !== 'online',
      });
    },
    onOffline: () => {
      xmppState = 'connecting';
      keepAlive.stop();
      liveness.setOnline(false);
    },
    onFatal: (error) => {
      const failure = new GridpresenceError(
        ERROR_CODES.AUTH_FAILED,
        `the XMPP server refused component ${componentJid}: ${error.message}`,
        {
          hint: "component.secret must equal the Component's component_secret in the server config",
        },
      );
      logger.fatal({ code: failure.code, hint: failure.hint }, failure.message);
      fatalFailure = failure;
      void shutdown(EXIT.AUTH);
    },
  });
  const { xmpp } = connection;
  const pingServer = createServerPinger({ xmpp, componentJid, domain: config.domain });
  const keepAlive = createComponentKeepAlive({
    ping: pingServer,
    intervalMs: 30_000,
    timeoutMs: 10_000,
    logger: log('keepalive'),
    onDead: (why) => connection.supervisor.forceReconnect(why),
  });
  const statusQuery = createStatusQuerier({ xmpp, componentJid, domain: config.domain });
  const directory = createGroupDirectory({ db });

  // Silent-death detection (docs/liveness.md).
  const pingMeter = createMeterPinger({ xmpp, componentJid, domain: config.domain });
  const liveness = createLivenessMonitor({
    ping: pingMeter,
    query: statusQuery,
    recorder,
    bus,
    initialStates: () => store.allCurrent(),
    meters: () => {
      const { defaults, byMeter } = resolveLivenessLimits(config.liveness, (group) =>
        directory.members(group),
      );
      return { ids: registry.ids(), limitsOf: (meterId) => byMeter.get(meterId) ?? defaults };
    },
    serverAnswering: serverAnsweringCheck(pingServer, { timeoutMs: 5_000, cacheMs: 2_000 }),
    sweepEveryMs: config.liveness.sweepEveryMs,
    concurrency: config.liveness.concurrency,
    onVerdict: metrics.livenessVerdict,
    logger: log('liveness'),
  });
  if (config.liveness.enabled) liveness.start();
  const subscriptions = createSubscriptionManager({
    xmpp,
    componentJid,
    domain: config.domain,
    pendingMeters: () => registry.unsubscribed(),
    markSubscribed: (meterId, at) => registry.markSubscribed(meterId, at),
    isMeter,
    logger: log('subscriptions'),
  });
  handleMeterPresence({ xmpp, domain: config.domain, isMeter, recorder, logger: log('presence') });
  handleMeterData({
    xmpp,
    domain: config.domain,
    componentJid,
    isMeter,
    recorder: createDataRecorder({
      store: data,
      protocolError,
      backlog,
      onRecorded: metrics.dataItem,
      logger: log('data'),
    }),
    protocolError,
    seen: (meterId, at) => recorder.seen(meterId, at),
    logger: log('data'),
  });
  answerComponentQueries(xmpp);

  // PROTOCOL §7 groups. Jobs a previous run left unfinished are recorded as interrupted. The ACL
  // has the agent's semantics (PROTOCOL §2); createAcl moves to src/ in a later refactor.
  const jobs = createJobStore({ db, retainJobs: config.groups.retainJobs });
  jobs.interruptRunning(new Date().toISOString());
  const runCommand = createCommandClient({
    xmpp,
    componentJid,
    domain: config.domain,
    onFinished: metrics.commandFinished,
  });
  const groupCommands = createGroupCommands({
    groups: directory,
    jobs,
    run: runCommand,
    concurrency: config.groups.concurrency,
    timeoutMs: config.groups.timeoutMs,
    maxRunningJobs: config.groups.maxRunningJobs,
    logger: log('groups'),
  });
  const acl = createAcl(config.acl, componentJid);
  const groupChat = answerGroupChat({
    xmpp,
    componentJid,
    domain: config.domain,
    roleOf: (jid) => acl.roleOf(jid),
    isMeter,
    directory,
    commands: groupCommands,
    logger: log('groups'),
  });

  // Alerts to operators (docs/liveness.md): subscribed to the bus before the first connect, so
  // changes that recovery records are seen too.
  const alertStore = createAlertStore({ db });
  const alerts = createAlertService({
    config: config.alerts,
    bus,
    store: alertStore,
    send: createAlertSender({ xmpp, componentJid }),
    onAlert: metrics.alertRaised,
    onSendFailed: metrics.alertSendFailed,
    logger: log('alerts'),
  });
  alerts.start();
  const alertChat = answerAlertChat({
    xmpp,
    componentJid,
    domain: config.domain,
    mayAck: alertAckers({ recipients: config.alerts.xmpp, roleOf: (jid) => acl.roleOf(jid) }),
    isMeter,
    store: alertStore,
    logger: log('alerts'),
  });

  // Demand response (docs/demand-response.md): each rule keeps its group's import under a limit.
  const drStore = createDrStore({ db });
  const demandResponse = createDemandResponseService({
    rules: config.demandResponse.rules,
    evaluateEveryS: config.demandResponse.evaluateEveryS,
    readings: data,
    store: drStore,
    run: runCommand,
    concurrency: config.groups.concurrency,
    timeoutMs: config.groups.timeoutMs,
    logger: log('demand-response'),
  });
  demandResponse.start();

  // Meters added by `presence-service meters add|import` (another process) get subscribed.
  const stopWatching = watchForeignCommits(db, () => {
    if (xmppState !== 'online') return;
    subscriptions.subscribePending().catch((error: Error) => {
      log('subscriptions').warn({ err: error.message }, 'subscribing new meters failed');
    });
  });

  // E-mail polling (docs/liveness.md), when configured: its reply listener runs before the API.
  const emailPoller = config.email
    ? createEmailPoller({
        config: config.email,
        db,
        recorder,
        meterAddress: (meterId) => registry.get(meterId)?.email ?? null,
        onPollOutcome: metrics.emailPoll,
        onReplyRejected: metrics.emailReplyRejected,
        logger: log('email'),
      })
    : undefined;
  await emailPoller?.start();

  // Polling schedules (docs/liveness.md): a poll that times out hands the meter to liveness.
  const pollStore = createPollStore({ db });
  const pollScheduler = createPollScheduler({
    schedules: config.polling.schedules,
    clock: systemClock,
    membersOf: (group) => (group === undefined ? registry.ids() : directory.members(group)),
    poll: createPollRunner({
      query: statusQuery,
      ping: pingMeter,
      lastActivity: createLastActivityQuerier({ xmpp, componentJid, domain: config.domain }),
      ...(emailPoller ? { emailPoll: (meterId: string) => emailPoller.poll(meterId) } : {}),
      recorder,
      currentState: (meterId) => store.current(meterId)?.state,
      pollStore,
      suspect: (meterId) => liveness.suspect(meterId),
      onResult: metrics.pollResult,
      logger: log('polling'),
    }),
    store: pollStore,
    isOnline: () => xmppState === 'online',
    logger: log('polling'),
  });
  pollScheduler.start();

  // Access control on HTTP (docs/http-auth.md): users, sessions and tokens in the same database.
  const { tls, trustProxy, sessionIdleMin, sessionMaxHours } = config.http;
  const auth = createAccessControl({ db, sessionIdleMin, sessionMaxHours });
  const http = buildHttpApi({
    auth,
    server: {
      trustProxy,
      ...(tls && { https: readTlsFiles(tls) }),
    },
    registry,
    store,
    data,
    groups: { directory, commands: groupCommands, jobs },
    demandResponse: { service: demandResponse, store: drStore },
    alerts: { store: alertStore },
    polling: { scheduler: pollScheduler, pollStore },
    metrics,
    exports: createExportQueries({ db }),
    dashboard: {
      queries: createDashboardQueries(db),
      jobs,
      run: runCommand,
      commandTimeoutMs: config.groups.timeoutMs,
    },
    ...(emailPoller ? { email: emailPoller } : {}),
    bus,
    logger: log('http'),
    health: () => ({ xmpp: xmppState }),
  });
  await http.listen({ host: config.http.host, port: config.http.port });
  const address = http.server.address() as AddressInfo;
  const apiUrl = `${tls ? 'https' : 'http'}://${address.address}:${address.port}`;

  let stopping: Promise<void> | undefined;
  function shutdown(code: number): Promise<void> {
    stopping ??= (async () => {
      stopWatching();
      keepAlive.stop();
      liveness.stop();
      groupChat.stop();
      alertChat.stop();
      alerts.stop();
      groupCommands.stop();
      demandResponse.stop();
      await http.close();
      await pollScheduler.stop();
      await emailPoller?.stop();
      await connection.supervisor.stop();
      db.close();
      log('service').info({ code }, 'stopped');
      resolveExit(code);
    })();
    return stopping;
  }

  connection.supervisor.start();
  log('service').info(
    { apiUrl, component: componentJid, meters: registry.count() },
    'service started',
  );
  return {
    apiUrl,
    stop: () => shutdown(EXIT.OK),
    exited,
    get failure() {
      return fatalFailure;
    },
  };
}

/** Config `http.tls`: the PEM files, read once at start; an unreadable one names its key. */
function readTlsFiles(tls: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (key: 'certFile' | 'keyFile') => {
    try {
      return readFileSync(tls[key]);
    } catch (cause) {
      throw new GridpresenceError(
        ERROR_CODES.CONFIG_UNREADABLE,
        `config key 'http.tls.${key}': cannot read ${tls[key]}`,
        { cause, hint: 'check the path and that the service user may read it' },
      );
    }
  };
  return { cert: read('certFile'), key: read('keyFile') };
}
