import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AgentConfig } from '../../meter-agent/config.js';
import type { ServiceConfig } from '../../presence-service/config.js';
import { openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { type LivenessSettings, type RunningProsody, startProsody } from '../harness/index.js';
import type { Logger } from '../log.js';
import { type NodeProcess, startNodeProcess } from './node-process.js';
import { programPath } from './programs.js';
import { waitForHttpOk } from './wait.js';

// The whole system on one machine: the harness Prosody, the presence service (a process, with
// SQLite), simulated meter agents (a process each) and an operator account. `npm start`, the
// end-to-end tests and the benchmarks all stand it up through here.

export interface StackOptions {
  dataDir: string;
  meterCount: number;
  domain?: string;
  /** Fixed ports (npm start); missing ones are picked free on 127.0.0.1. */
  ports?: { c2s?: number; directTls?: number; component?: number; http?: number; api?: number };
  liveness?: LivenessSettings;
  /** Overrides for every agent's config (e.g. no random events in tests). */
  agentConfig?: Partial<Pick<AgentConfig, 'meter' | 'reconnect' | 'log'>>;
  serviceLogLevel?: string;
  logger: Logger;
}

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
  readonly agents: Map<string, AgentHandle>;
  service: NodeProcess;
  /** The description written to <dataDir>/stack.json for people and programs. */
  readonly description: StackDescription;
  startAgent(meterId: string): NodeProcess;
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
    logger: logger.child({ module: 'prosody' }),
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
    const serviceConfig: ServiceConfig = {
      domain,
      component: {
        host: prosody.host,
        port: prosody.componentPort,
        secret: prosody.componentSecret,
        reconnect: { backoffBaseMs: 200, backoffMaxMs: 5_000 },
      },
      database: { path: join(dataDir, 'presence.db') },
      http: { host: '127.0.0.1', port: options.ports?.api ?? 0 },
      provisioning: { kind: 'prosodyctl', prosodyConfig: prosody.configFile },
      recovery: { queryConcurrency: 64, queryTimeoutMs: 10_000 },
      log: { level: (options.serviceLogLevel ?? 'info') as ServiceConfig['log']['level'] },
    };
    writePrivateJson(serviceConfigFile, serviceConfig);
    registerMeters(serviceConfig.database.path, domain, meterIds);

    for (const [index, c] of credentials.entries()) {
      const agentConfig: AgentConfig = {
        meterId: c.meterId,
        domain,
        kind: 'revenue-meter',
        xmpp: {
          host: prosody.host,
          port: prosody.directTlsPort,
          transport: 'direct-tls',
          password: c.password,
          caFile: prosody.caFile,
        },
        acl: [{ jid: operator.jid, role: 'operator' }],
        dataDir: c.agentDir,
        reconnect: { backoffBaseMs: 500, backoffMaxMs: 10_000, ...options.agentConfig?.reconnect },
        meter: {
          driver: 'simulated',
          seed: index + 1,
          eventRatePerHour: 2,
          nominalVoltageV: 230,
          ...options.agentConfig?.meter,
        },
        log: { level: 'info', ...options.agentConfig?.log },
      };
      mkdirSync(c.agentDir, { recursive: true, mode: 0o700 });
      writePrivateJson(c.configFile, agentConfig);
    }

    const launchService = async (): Promise<{ process: NodeProcess; apiUrl: string }> => {
      const child = startNodeProcess({
        script: programPath('presence-service'),
        args: ['run', '--config', serviceConfigFile],
        logFile: join(dataDir, 'logs', 'presence-service.log'),
      });
      const apiUrl = await apiUrlFromLog(child, 15_000);
      return { process: child, apiUrl };
    };
    logger.info('starting the presence service');
    const first = await launchService();
    let apiUrl = first.apiUrl;

    const stack: Stack = {
      prosody,
      get apiUrl() {
        return apiUrl;
      },
      serviceConfigFile,
      operator,
      agents,
      service: first.process,
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
      async startService() {
        const next = await launchService();
        stack.service = next.process;
        apiUrl = next.apiUrl;
        return next.process;
      },
      async stop() {
        await Promise.all(
          [...agents.values()].map((a) => (a.process?.running ? a.process.stop() : undefined)),
        );
        if (stack.service.running) await stack.service.stop();
        await prosody.stop();
      },
    };
    await waitForHttpOk(`${apiUrl}/healthz`, 15_000);
    writePrivateJson(join(dataDir, 'stack.json'), stack.description);
    return stack;
  } catch (error) {
    await prosody.stop();
    throw error;
  }
}

/** Stores the meters in the registry as `presence-service meters import` would. */
function registerMeters(databasePath: string, domain: string, meterIds: string[]): void {
  const db = openDatabase(databasePath);
  try {
    createMeterRegistry({ db }).addMany(
      meterIds.map((id) => ({ id, domain, kind: 'revenue-meter', groups: ['feeder-1'] })),
    );
  } finally {
    db.close();
  }
}

/** The service logs where it listens; with port 0 that is the only way to know. */
async function apiUrlFromLog(child: NodeProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.running) {
      throw new Error(`the presence service exited early; see ${child.logFile}`);
    }
    if (existsSync(child.logFile)) {
      // The log is appended to across restarts: only this process's line counts.
      const line = readFileSync(child.logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes(`"pid":${child.pid},`) && l.includes('"apiUrl"'));
      const match = line ? /"apiUrl":"(http:\/\/[^"]+)"/.exec(line) : null;
      if (match?.[1]) return match[1];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `the presence service did not start within ${timeoutMs} ms; see ${child.logFile}`,
  );
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
