import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { type AgentConfig, agentConfigSchema } from '../../meter-agent/config.js';
import { hashPassword, verifyPassword } from '../../presence-service/auth/passwords.js';
import { createTokenStore } from '../../presence-service/auth/token-store.js';
import { createUserStore } from '../../presence-service/auth/user-store.js';
import { type ServiceConfig, serviceConfigSchema } from '../../presence-service/config.js';
import { openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { type LivenessSettings, type RunningProsody, startProsody } from '../harness/index.js';
import { findFreePorts } from '../harness/ports.js';
import type { Logger } from '../log.js';
import { type NodeProcess, startNodeProcess } from './node-process.js';
import { programPath } from './programs.js';
import { waitForHttpOk } from './wait.js';

// The whole system on one machine: the harness Prosody, the presence service (a process, with
// SQLite), simulated meter agents (a process each), an operator account, and an admin of the
// HTTP API with an API token (docs/http-auth.md). `npm start`, the end-to-end tests and the
// benchmarks all stand it up through here.

export interface StackOptions {
  dataDir: string;
  meterCount: number;
  domain?: string;
  /** Fixed ports (npm start); missing ones are picked free on 127.0.0.1. */
  ports?: { c2s?: number; directTls?: number; component?: number; http?: number; api?: number };
  liveness?: LivenessSettings;
  /** The groups each meter is registered in (default: every meter in `feeder-1`). */
  meterGroups?: (meterId: string, index: number) => string[];
  /** Overrides for every agent's config (e.g. no random events in tests). */
  agentConfig?: {
    meter?: Partial<Omit<AgentConfig['meter'], 'seed'>>;
    reconnect?: Partial<AgentConfig['reconnect']>;
    log?: Partial<AgentConfig['log']>;
    telemetry?: Partial<AgentConfig['telemetry']>;
    presence?: Partial<AgentConfig['presence']>;
    keepAlive?: Partial<AgentConfig['keepAlive']>;
  };
  serviceLogLevel?: ServiceConfig['log']['level'];
  /** Extra options for the node running the service and the fleet processes (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Overrides for the service's config; `acl` entries are added after the stack's operator. */
  service?: {
    acl?: ServiceConfig['acl'];
    groups?: Partial<ServiceConfig['groups']>;
    demandResponse?: ServiceConfig['demandResponse'];
    liveness?: ServiceInput['liveness'];
    polling?: ServiceInput['polling'];
    alerts?: ServiceInput['alerts'];
    email?: ServiceInput['email'];
  };
  logger: Logger;
}

/** The service config as written in a file: defaults may be left out. */
type ServiceInput = z.input<typeof serviceConfigSchema>;

export interface AgentHandle {
  readonly meterId: string;
  readonly configFile: string;
  readonly dataDir: string;
  process: NodeProcess | undefined;
}

export interface Stack {
  readonly prosody: RunningProsody;
  readonly apiUrl: string;
  readonly serviceConfigFile: string;
  readonly operator: { jid: string; password: string };
  /** The HTTP API's admin: signs in to the dashboard (POST /api/session). */
  readonly admin: { username: string; password: string };
  /** An API token of the admin, for `Authorization: Bearer` (tests, scripts, curl). */
  readonly apiToken: string;
  readonly agents: Map<string, AgentHandle>;
  service: NodeProcess;
  /** The description written to <dataDir>/stack.json for people and programs. */
  readonly description: StackDescription;
  startAgent(meterId: string): NodeProcess;
  /**
   * Runs every meter of the stack in `meter-agent fleet` processes: one by default, or
   * `shards` processes that split the meters between them (more cores, smaller heaps).
   */
  startFleet(shards?: number, startConcurrency?: number): NodeProcess[];
  startService(): Promise<NodeProcess>;
  stop(): Promise<void>;
}

export interface StackDescription {
  xmpp: {
    host: string;
    port: number;
    directTlsPort: number;
    domain: string;
    caFile: string;
    caDir: string;
  };
  component: string;
  operator: { jid: string; password: string };
  api: string;
  /** Signs in to the dashboard and the API (docs/http-auth.md). */
  admin: { username: string; password: string };
  /** `Authorization: Bearer <apiToken>` acts as the admin. */
  apiToken: string;
  prosodyConfig: string;
  serviceConfig: string;
  meters: string[];
  agents: Record<string, { configFile: string; dataDir: string }>;
}

export const meterIdFor = (index: number) => `mtr-${String(index + 1).padStart(4, '0')}`;

export async function startStack(options: StackOptions): Promise<Stack> {
  const dataDir = resolve(options.dataDir);
  const domain = options.domain ?? 'grid.localhost';
  const { logger } = options;
  mkdirSync(dataDir, { recursive: true });
  // Prosody runs as the `prosody` user and must traverse this directory to reach its own
  // (prosody-owned) subdirectory; the secrets below it are files of mode 0600.
  chmodSync(dataDir, 0o711);

  logger.info('starting Prosody');
  const prosody = await startProsody({
    dir: join(dataDir, 'prosody'),
    domain,
    ports: {
      c2s: options.ports?.c2s,
      directTls: options.ports?.directTls,
      component: options.ports?.component,
      http: options.ports?.http,
    },
    liveness: options.liveness,
    logger,
  });
  try {
    const operator = readOrCreateSecret(join(dataDir, 'operator.json'), () => ({
      jid: `operator@${domain}`,
      password: randomSecret(),
    }));
    const meterIds = Array.from({ length: options.meterCount }, (_, i) => meterIdFor(i));
    const agents = new Map<string, AgentHandle>();
    const credentials = meterIds.map((meterId) => {
      const agentDir = join(dataDir, 'agents', meterId);
      const configFile = join(agentDir, 'config.json');
      const existing = existsSync(configFile)
        ? (JSON.parse(readFileSync(configFile, 'utf8')) as AgentConfig)
        : undefined;
      const password = existing?.xmpp.password ?? randomSecret();
      agents.set(meterId, { meterId, configFile, dataDir: agentDir, process: undefined });
      return { meterId, password, agentDir, configFile };
    });
    logger.info({ meters: meterIds.length }, 'creating XMPP accounts');
    await prosody.createAccounts([
      { username: 'operator', password: operator.password },
      ...credentials.map((c) => ({ username: c.meterId, password: c.password })),
    ]);

    const serviceConfigFile = join(dataDir, 'service.json');
    // Through the schema, so that every default is the shipped one (and the file is valid).
    const serviceConfig: ServiceConfig = serviceConfigSchema.parse({
      domain,
      component: {
        host: prosody.host,
        port: prosody.componentPort,
        secret: prosody.componentSecret,
        reconnect: { backoffBaseMs: 200, backoffMaxMs: 5_000 },
      },
      database: { path: join(dataDir, 'presence.db') },
      // A known port (not 0) so that the API's address does not depend on reading a log line.
      http: { host: '127.0.0.1', port: options.ports?.api ?? (await findFreePorts(1))[0] ?? 0 },
      provisioning: { kind: 'prosodyctl', prosodyConfig: prosody.configFile },
      // PROTOCOL §2/§7: the operator may command groups through the service.
      acl: [{ jid: operator.jid, role: 'operator' }, ...(options.service?.acl ?? [])],
      groups: options.service?.groups,
      demandResponse: options.service?.demandResponse,
      liveness: options.service?.liveness,
      polling: options.service?.polling,
      // The stack's operator gets the alerts unless the caller says otherwise.
      alerts: options.service?.alerts ?? { xmpp: [operator.jid] },
      email: options.service?.email,
      log: { level: options.serviceLogLevel ?? 'info' },
    } satisfies ServiceInput);
    writePrivateJson(serviceConfigFile, serviceConfig);
    registerMeters(
      serviceConfig.database.path,
      domain,
      meterIds,
      options.meterGroups ?? (() => ['feeder-1']),
    );
    const { admin, apiToken } = await provisionAdmin(serviceConfig.database.path, dataDir);

    for (const [index, c] of credentials.entries()) {
      const agentConfig: AgentConfig = agentConfigSchema.parse({
        meterId: c.meterId,
        domain,
        kind: 'revenue-meter',
        xmpp: {
          host: prosody.host,
          port: prosody.directTlsPort,
          password: c.password,
          caFile: prosody.caFile,
        },
        acl: [{ jid: operator.jid, role: 'operator' }],
        dataDir: c.agentDir,
        // A short spread: stacks restart Prosody in tests and demos and want the meters back soon.
        reconnect: {
          backoffBaseMs: 500,
          backoffMaxMs: 10_000,
          spreadMs: 2_000,
          ...options.agentConfig?.reconnect,
        },
        meter: {
          driver: 'simulated',
          eventRatePerHour: 2,
          ...options.agentConfig?.meter,
          // each meter its own random source, the same one every run
          seed: index + 1,
        },
        log: options.agentConfig?.log,
        telemetry: options.agentConfig?.telemetry,
        presence: options.agentConfig?.presence,
        keepAlive: options.agentConfig?.keepAlive,
      } satisfies z.input<typeof agentConfigSchema>);
      mkdirSync(c.agentDir, { recursive: true, mode: 0o700 });
      writePrivateJson(c.configFile, agentConfig);
    }

    const apiUrl = `http://${serviceConfig.http.host}:${serviceConfig.http.port}`;
    const launchService = async (): Promise<NodeProcess> => {
      const child = startNodeProcess({
        script: programPath('presence-service'),
        args: ['run', '--config', serviceConfigFile],
        logFile: join(dataDir, 'logs', 'presence-service.log'),
        nodeArgs: options.nodeArgs,
      });
      try {
        await waitForHttpOk(`${apiUrl}/healthz`, 15_000, () => {
          if (!child.running) throw new Error(`the presence service exited; see ${child.logFile}`);
        });
      } catch (error) {
        await child.stop('SIGKILL');
        throw error;
      }
      return child;
    };
    logger.info('starting the presence service');
    const first = await launchService();
    let fleet: NodeProcess[] = [];

    const stack: Stack = {
      prosody,
      apiUrl,
      serviceConfigFile,
      operator,
      admin,
      apiToken,
      agents,
      service: first,
      description: {
        xmpp: {
          host: prosody.host,
          port: prosody.c2sPort,
          directTlsPort: prosody.directTlsPort,
          domain,
          caFile: prosody.caFile,
          caDir: prosody.hashedCaDir,
        },
        component: prosody.componentJid,
        operator,
        api: apiUrl,
        admin,
        apiToken,
        prosodyConfig: prosody.configFile,
        serviceConfig: serviceConfigFile,
        meters: meterIds,
        agents: Object.fromEntries(
          [...agents.values()].map((a) => [
            a.meterId,
            { configFile: a.configFile, dataDir: a.dataDir },
          ]),
        ),
      },
      startAgent(meterId) {
        const handle = agents.get(meterId);
        if (!handle) throw new Error(`no agent ${meterId} in this stack`);
        if (handle.process?.running) return handle.process;
        handle.process = startNodeProcess({
          script: programPath('meter-agent'),
          args: ['run', '--config', handle.configFile],
          logFile: join(dataDir, 'logs', `${meterId}.log`),
        });
        return handle.process;
      },
      startFleet(shards = 1, startConcurrency?: number) {
        fleet = Array.from({ length: shards }, (_, i) =>
          startNodeProcess({
            script: programPath('meter-agent'),
            args: [
              'fleet',
              '--config-dir',
              join(dataDir, 'agents'),
              '--shard',
              `${i + 1}/${shards}`,
              ...(startConcurrency ? ['--start-concurrency', String(startConcurrency)] : []),
            ],
            logFile: join(dataDir, 'logs', shards === 1 ? 'fleet.log' : `fleet-${i + 1}.log`),
            env: { LOG_LEVEL: options.agentConfig?.log?.level ?? 'info' },
            nodeArgs: options.nodeArgs,
          }),
        );
        return fleet;
      },
      async startService() {
        stack.service = await launchService();
        return stack.service;
      },
      async stop() {
        await Promise.all([
          ...[...agents.values()].map((a) => (a.process?.running ? a.process.stop() : undefined)),
          ...fleet.map((f) => (f.running ? f.stop() : undefined)),
        ]);
        if (stack.service.running) await stack.service.stop();
        await prosody.stop();
      },
    };
    writePrivateJson(join(dataDir, 'stack.json'), stack.description);
    return stack;
  } catch (error) {
    await prosody.stop();
    throw error;
  }
}

/** Stores the meters in the registry as `presence-service meters import` would. */
function registerMeters(
  databasePath: string,
  domain: string,
  meterIds: string[],
  groupsOf: (meterId: string, index: number) => string[],
): void {
  const db = openDatabase(databasePath);
  try {
    createMeterRegistry({ db }).addMany(
      meterIds.map((id, index) => ({
        id,
        domain,
        kind: 'revenue-meter',
        groups: groupsOf(id, index),
      })),
    );
  } finally {
    db.close();
  }
}

const STACK_TOKEN_LABEL = 'stack';

/**
 * The HTTP API's admin, in the service database before the service starts (as
 * `presence-service users add` would): the same password on every start with this data dir (kept
 * in admin.json, mode 0600), and a new API token each start, the previous start's revoked.
 */
async function provisionAdmin(
  databasePath: string,
  dataDir: string,
): Promise<{ admin: { username: string; password: string }; apiToken: string }> {
  const admin = readOrCreateSecret(join(dataDir, 'admin.json'), () => ({
    username: 'admin',
    password: randomSecret(),
  }));
  const db = openDatabase(databasePath);
  try {
    const users = createUserStore({ db });
    const tokens = createTokenStore({ db });
    const existing = users.passwordHashOf(admin.username);
    if (!existing) {
      const passwordHash = await hashPassword(admin.password);
      users.add({ username: admin.username, role: 'admin', passwordHash });
    } else {
      if (!(await verifyPassword(admin.password, existing.passwordHash))) {
        users.setPassword(admin.username, await hashPassword(admin.password));
      }
      if (existing.user.role !== 'admin') users.setRole(admin.username, 'admin');
    }
    const user = users.get(admin.username);
    if (!user) throw new Error(`the stack's admin '${admin.username}' was not stored`);
    for (const old of tokens.list({ userId: user.id })) {
      if (old.label === STACK_TOKEN_LABEL && old.revokedAt === null) tokens.revoke(old.id);
    }
    const { token } = tokens.create(user.id, { label: STACK_TOKEN_LABEL });
    return { admin, apiToken: token };
  } finally {
    db.close();
  }
}

function readOrCreateSecret<T>(file: string, create: () => T): T {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as T;
  const value = create();
  writePrivateJson(file, value);
  return value;
}

function writePrivateJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}

export function randomSecret(): string {
  return randomBytes(18).toString('base64url');
}
