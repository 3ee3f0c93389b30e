import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../src/log.js';
import { boundedMap } from '../src/util/bounded-map.js';
import { type AgentConfig, loadAgentConfig } from './config.js';
import { type RunningAgent, startAgent } from './main.js';

// Fleet mode: one process runs many meters, each its own XMPP session, meter model and state,
// through exactly the code path of a single agent (startAgent), sharing one event loop.

/** How long one meter's first login may hold a start slot. */
const LOGIN_WAIT_MS = 30_000;

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export interface RunningFleet {
  readonly size: number;
  stop(): Promise<void>;
  /** Resolves with the exit code: 0 once stopped, 1 if no meter could start. */
  readonly exited: Promise<number>;
}

/** Every `<dir>/<meter>/config.json` below `configDir`, as the stack lays them out. */
export function findFleetConfigs(configDir: string): string[] {
  return readdirSync(configDir)
    .map((entry) => join(configDir, entry, 'config.json'))
    .filter((file) => statSync(file, { throwIfNoEntry: false })?.isFile())
    .sort();
}

/**
 * An error that one XMPP connection's own emitters threw because xmpp.js had already let go of
 * them (seen in the reconnect storm of issue 6, 10,000 meters, Prosody restarted): an XML parse
 * error emitted a second time by a parser the connection had detached after the first one
 * (`<x> must be closed.`), the same parser reading on after its root had closed (a TypeError in
 * @xmpp/xml's Parser), and a TLS alert or reset arriving on a socket wrapper the connection had
 * detached. Each killed a fleet process of 2,500 meters. That connection is dead either way and
 * its supervisor reconnects it with backoff (or its attempt watchdog does).
 */
export function isDetachedConnectionError(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown; stack?: unknown } | null;
  if (e?.name === 'XMLError') return true;
  if (typeof e?.code === 'string' && (e.code.startsWith('ERR_SSL_') || e.code === 'ECONNRESET')) {
    return true;
  }
  if (!(error instanceof TypeError) || typeof e?.stack !== 'string') return false;
  const firstFrame = e.stack.split('\n').find((line) => line.trimStart().startsWith('at '));
  return firstFrame?.includes('/node_modules/@xmpp/xml/lib/Parser.js') === true;
}

/**
 * Fleet mode only: such an error ends that one meter's connection, not the process and its
 * other meters. Anything else still ends the process, as Node would. (A single agent keeps
 * Node's behaviour: it crashes and its service manager restarts it.)
 */
function absorbDetachedConnectionErrors(logger: Logger): () => void {
  const onUncaught = (error: Error) => {
    if (!isDetachedConnectionError(error)) {
      // What Node does with an uncaught exception: print it, exit 1.
      process.stderr.write(`${error.stack ?? String(error)}\n`);
      process.exit(1);
    }
    logger.warn(
      { err: error.message, code: (error as NodeJS.ErrnoException).code, name: error.name },
      'connection error after xmpp.js let go of the connection; that meter reconnects',
    );
  };
  process.on('uncaughtException', onUncaught);
  return () => process.off('uncaughtException', onUncaught);
}

export async function startFleet(
  configFiles: string[],
  logger: Logger,
  /**
   * Logins in flight at once from this process: a meter counts until its first session is up
   * (or LOGIN_WAIT_MS passed; it goes on trying with backoff). Without this bound 10,000 meters
   * connected at once, logins timed out and retried, and Prosody fell behind for minutes.
   * Several processes of one fleet share the server, so they split the number between them.
   */
  startConcurrency = 50,
): Promise<RunningFleet> {
  const stopAbsorbing = absorbDetachedConnectionErrors(logger);
  // Per-meter keys must not come from one shared environment, so none is read here.
  const configs: AgentConfig[] = configFiles.map((file) => loadAgentConfig(file, {}));
  const agents: RunningAgent[] = [];
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  const results = await boundedMap(configs, startConcurrency, async (config) => {
    const agent = await startAgent(config, logger.child({ meterId: config.meterId }));
    agents.push(agent);
    await Promise.race([agent.firstOnline, agent.exited, sleep(LOGIN_WAIT_MS)]);
    // One meter's fatal error (e.g. its password was refused) ends that meter, not the fleet.
    void agent.exited.then((code) => {
      if (code !== 0) logger.error({ meterId: config.meterId, code }, 'meter stopped');
    });
  });
  results.forEach((result, index) => {
    if (result.status === 'rejected') {
      const reason = result.reason as Error;
      logger.error(
        { meterId: configs[index]?.meterId, err: reason.message },
        'meter did not start',
      );
    }
  });
  if (agents.length === 0) resolveExit(1);
  logger.info({ meters: agents.length }, 'fleet started');
  return {
    size: agents.length,
    async stop() {
      await Promise.all(agents.map((agent) => agent.stop()));
      stopAbsorbing();
      resolveExit(0);
    },
    exited,
  };
}
