import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfigSchema } from '../../meter-agent/config.js';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import type { NodeProcess } from '../../src/stack/node-process.js';
import { rssBytes } from '../../src/stack/process-cpu.js';
import { meterIdFor, randomSecret, type Stack, startStack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { type ControlPool, createControlPool } from './control-pool.js';
import { readJsonLines, readTail } from './fleet-logs.js';
import type { BenchOptions } from './options.js';
import { setProsodyGc } from './prosody-gc.js';
import { openStoreProbe, type StoreProbe } from './store-probe.js';

// The one stack a bench run shares between its scenarios: Prosody, the service and N meters in
// K fleet processes (onboarding brings them online; later scenarios reuse them), plus what the
// scenarios need around it. Everything it starts is released by close().

/** The group that gets the group command (its first `groupSize` meters). */
export const BENCH_GROUP = 'bench-group';
/** Bare clients for the floors: plain accounts, no agent code. */
export const FLOOR_CLIENTS = 4;

/**
 * Agents reconnect with the shipped backoff (the defaults of meter-agent/config.ts), not the
 * shorter one the test stack gives them: the reconnect storm measures what ships.
 */
export const AGENT_BACKOFF = (() => {
  const shipped = agentConfigSchema.shape.reconnect.parse(undefined);
  return { baseMs: shipped.backoffBaseMs, maxMs: shipped.backoffMaxMs, spreadMs: shipped.spreadMs };
})();
/** Settings that shape the figures, printed with the table and kept in the JSON. */
export const stackSettings = (options: BenchOptions): string[] => [
  ...(options.cpuProfDir
    ? [`the service and the fleet processes ran under node --cpu-prof (${options.cpuProfDir})`]
    : []),
  ...(options.prosodyGc
    ? [`Prosody's Lua GC switched to ${options.prosodyGc} after each start (--prosody-gc)`]
    : []),
  "agent heartbeats off (presence.heartbeatS 0) and the service's silent-death detection off (liveness.enabled false): with the defaults, 10,000 meters add 2,000 directed presences/s that are noise here",
  'readings every 24 h (telemetry.intervalS 86400) and no random meter events, so that only the changes a scenario makes are counted',
  'XEP-0198 keep-alive of the agents at its default (an <r/> after 15 s without traffic)',
  `agents reconnect with the shipped backoff, ${AGENT_BACKOFF.baseMs}–${AGENT_BACKOFF.maxMs} ms with equal jitter, the first retry after the server ended a session spread over 0–${AGENT_BACKOFF.spreadMs} ms (RFC 6120 §3.3; the test stack's own are shorter)`,
];

export interface BenchContext {
  readonly options: BenchOptions;
  readonly stack: Stack;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly probe: StoreProbe;
  readonly control: ControlPool;
  readonly meterIds: readonly string[];
  readonly floorAccounts: ReadonlyArray<{ username: string; password: string }>;
  /** An account for one single-meter agent outside the fleet (footprint). */
  readonly soloAccount: { meterId: string; password: string };
  /** The fleet processes once onboarding has started them. */
  fleet: NodeProcess[];
  /** Set by onboarding: the floor of the reconnect storm. */
  onboarding: { seconds: number; loginsPerS: number } | undefined;
  /** Measured before any meter logged in. */
  readonly baseline: { prosodyRssBytes: number; serviceRssBytes: number };
  fleetLogFiles(): string[];
  serviceLogFile(): string;
  /** GET from the service's API as its admin. */
  api<T>(path: string, init?: RequestInit): Promise<T>;
  /** Meters per recorded state (GET /api/stats). */
  counts(): Promise<Record<string, number>>;
  /**
   * waitFor that gives up at once, with the crash from its log, when a fleet process has exited
   * (waitFor itself retries a check that throws until its time is up).
   */
  waitWhileFleetRuns<T>(
    what: string,
    check: () => T | undefined | false | Promise<T | undefined | false>,
    timeoutMs: number,
    intervalMs: number,
  ): Promise<T>;
  /** Throws if a fleet process has exited (with the crash from its log). */
  assertFleetRunning(): void;
  /** Applies --prosody-gc to the running Prosody (after each start); a no-op without it. */
  applyProsodyGc(): Promise<void>;
  /** Waits for the service's "meter states recovered" log line written after `offset`. */
  waitForRecovery(offset: number, timeoutMs: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function createBenchContext(
  options: BenchOptions,
  logger: Logger,
): Promise<BenchContext> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gp-bench-'));
  // An exit before close() (Ctrl-C while the stack starts, a crash) leaves no temp dir behind.
  if (!options.keepDir)
    process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      dataDir,
      meterCount: options.meters,
      logger: silentLogger(),
      serviceLogLevel: 'info',
      meterGroups: (_id, index) =>
        index < options.groupSize ? ['feeder-1', BENCH_GROUP] : ['feeder-1'],
      agentConfig: {
        meter: { eventRatePerHour: 0 },
        presence: { heartbeatS: 0 },
        telemetry: { intervalS: 86_400 },
        reconnect: {
          backoffBaseMs: AGENT_BACKOFF.baseMs,
          backoffMaxMs: AGENT_BACKOFF.maxMs,
          spreadMs: AGENT_BACKOFF.spreadMs,
        },
        // info: the reconnect storm reads each meter's backoff from the fleet logs.
        log: { level: 'info' },
      },
      service: { liveness: { enabled: false } },
      ...(options.cpuProfDir && {
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`],
      }),
    });
    const floorAccounts = Array.from({ length: FLOOR_CLIENTS }, (_, i) => ({
      username: `bench-floor-${i + 1}`,
      password: randomSecret(),
    }));
    const soloAccount = { meterId: meterIdFor(options.meters), password: randomSecret() };
    await stack.prosody.createAccounts([
      ...floorAccounts,
      { username: soloAccount.meterId, password: soloAccount.password },
    ]);
    const ctx = contextFor(options, logger, dataDir, stack, floorAccounts, soloAccount);
    await ctx.applyProsodyGc();
    return ctx;
  } catch (error) {
    await stack?.stop();
    if (!options.keepDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

function contextFor(
  options: BenchOptions,
  logger: Logger,
  dataDir: string,
  stack: Stack,
  floorAccounts: Array<{ username: string; password: string }>,
  soloAccount: { meterId: string; password: string },
): BenchContext {
  const probe = openStoreProbe(join(dataDir, 'presence.db'));
  const control = createControlPool();
  const headers = { authorization: `Bearer ${stack.apiToken}` };
  const ctx: BenchContext = {
    options,
    stack,
    dataDir,
    logger,
    probe,
    control,
    meterIds: stack.description.meters,
    floorAccounts,
    soloAccount,
    fleet: [],
    onboarding: undefined,
    baseline: {
      prosodyRssBytes: rssBytes(stack.prosody.pid),
      serviceRssBytes: rssBytes(stack.service.pid),
    },
    fleetLogFiles: () => ctx.fleet.map((f) => f.logFile),
    serviceLogFile: () => stack.service.logFile,
    async api<T>(path: string, init: RequestInit = {}) {
      const res = await fetch(`${stack.apiUrl}${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string> | undefined) },
      });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async counts() {
      return (await ctx.api<{ counts: Record<string, number> }>('/api/stats')).counts;
    },
    async waitWhileFleetRuns<T>(
      what: string,
      check: () => T | undefined | false | Promise<T | undefined | false>,
      timeoutMs: number,
      intervalMs: number,
    ): Promise<T> {
      const exited = Symbol('a fleet process exited');
      const result = await waitFor<T | typeof exited>(
        what,
        () => (ctx.fleet.some((f) => !f.running) ? exited : check()),
        timeoutMs,
        intervalMs,
      );
      if (result === exited) {
        ctx.assertFleetRunning();
        throw new Error('a fleet process exited');
      }
      return result;
    },
    assertFleetRunning() {
      const dead = ctx.fleet.find((f) => !f.running);
      if (!dead) return;
      // The last lines that are not JSON: Node's report of the crash.
      const tail = readTail(dead.logFile, 8192)
        .split('\n')
        .filter((line) => line.trim() && !line.startsWith('{'))
        .slice(0, 6)
        .join(' | ');
      throw new Error(`fleet process ${dead.pid} exited (${dead.logFile}): ${tail || 'no report'}`);
    },
    async applyProsodyGc() {
      if (!options.prosodyGc) return;
      const previous = await setProsodyGc(stack.prosody.configFile, options.prosodyGc);
      logger.info({ previous, now: options.prosodyGc }, "Prosody's Lua GC switched");
    },
    waitForRecovery(offset, timeoutMs) {
      return waitFor(
        'the service to recover every meter state',
        () => {
          const file = ctx.serviceLogFile();
          return readJsonLines(file, offset).find((l) => l.msg === 'meter states recovered');
        },
        timeoutMs,
        100,
      );
    },
    async close() {
      control.close();
      probe.close();
      await stack.stop();
      if (!options.keepDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return ctx;
}
