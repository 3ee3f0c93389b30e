import { relative } from 'node:path';
import { reportCliError } from '../src/cli/report-error.js';
import { ensureProsodyInstalled } from '../src/harness/index.js';
import { createRootLogger } from '../src/log.js';
import { withBarePath } from './bench/bare-path.js';
import { type BenchContext, createBenchContext, stackSettings } from './bench/context.js';
import { collectVersions, describeMachine } from './bench/machine.js';
import {
  type BenchOptions,
  HELP,
  parseBenchOptions,
  type ScenarioName,
  UsageError,
} from './bench/options.js';
import {
  renderTable,
  type ScenarioFailure,
  type ScenarioResult,
  writeResult,
} from './bench/report.js';
import {
  measureThroughputFloor,
  runChangeThroughput,
  type ThroughputFloor,
} from './bench/scenarios/change-throughput.js';
import { runFootprint } from './bench/scenarios/footprint.js';
import { runGroupCommand } from './bench/scenarios/group-command.js';
import { runOnboarding } from './bench/scenarios/onboarding.js';
import {
  type LatencyFloor,
  measureLatencyFloor,
  runPresenceLatency,
} from './bench/scenarios/presence-latency.js';
import { runReconnectStorm } from './bench/scenarios/reconnect-storm.js';
import { runServiceRestart } from './bench/scenarios/service-restart.js';

// `npm run bench` (issue 6): one stack, the scenarios in order, one table and one JSON file.
// Onboarding always runs first (it brings the meters online that the others reuse); a scenario
// that fails is reported and the next one still runs; every process the run started is stopped
// at its end, on failure and on Ctrl-C.

const PROGRAM = 'bench';

type Run = (ctx: BenchContext) => Promise<ScenarioResult>;

/**
 * Scenarios after onboarding, in the order they run: the most disruptive ones last. The floors
 * of the presence path need the service's component slot, so they are measured once, before the
 * first scenario that needs one (bare-path.ts).
 */
function laterScenarios(only: ReadonlySet<ScenarioName>): Array<[ScenarioName, Run]> {
  let floors: Promise<PresenceFloors> | undefined;
  const floorsOf = (ctx: BenchContext) => {
    floors ??= withBarePath(ctx, async (bare) => ({
      latency: only.has('presence-latency') ? await measureLatencyFloor(ctx, bare) : undefined,
      throughput: only.has('change-throughput')
        ? await measureThroughputFloor(ctx, bare)
        : undefined,
    }));
    return floors;
  };
  return [
    ['footprint', runFootprint],
    ['group-command', runGroupCommand],
    ['presence-latency', async (ctx) => runPresenceLatency(ctx, (await floorsOf(ctx)).latency)],
    [
      'change-throughput',
      async (ctx) => runChangeThroughput(ctx, (await floorsOf(ctx)).throughput),
    ],
    ['service-restart', runServiceRestart],
    ['reconnect-storm', runReconnectStorm],
  ];
}

interface PresenceFloors {
  latency: LatencyFloor | undefined;
  throughput: ThroughputFloor | undefined;
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    process.stderr.write(`${PROGRAM}: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const logger = createRootLogger({ name: PROGRAM, level: process.env.LOG_LEVEL ?? 'info' });
  const date = new Date();
  const machine = describeMachine();
  const versions = collectVersions();
  await ensureProsodyInstalled(logger);

  const results: ScenarioResult[] = [];
  const failures: ScenarioFailure[] = [];
  const timings: Record<string, number> = {};
  const command = `npm run bench --${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`;
  /** Prints the table and writes the JSON of what was measured so far. */
  const report = () => {
    process.stdout.write(
      `\n${command}\n${machine.cpuModel}, ${machine.cores} cores, ${(machine.ramBytes / 2 ** 30).toFixed(0)} GiB, ` +
        `Linux ${machine.kernel}; Node ${versions.node}, Prosody ${versions.prosody}; ` +
        `${versions.gitCommit.slice(0, 10)}${versions.gitDirty ? ' (with uncommitted changes)' : ''}\n\n` +
        renderTable(results, failures) +
        `settings: ${stackSettings(options).join('; ')}\n`,
    );
    const file = writeResult(options.outDir, date, {
      script: 'scripts/bench.ts',
      command,
      date: date.toISOString(),
      options: { ...options, only: [...options.only] },
      settings: stackSettings(options),
      machine,
      versions,
      secondsPerScenario: timings,
      scenarios: Object.fromEntries(results.map((r) => [r.name, r])),
      failures,
    });
    const shown = relative(process.cwd(), file);
    process.stdout.write(`\nwritten to ${shown.startsWith('..') ? file : shown}\n`);
  };

  // Ctrl-C: a graceful stop of everything once the stack is up (agents, service, Prosody, in
  // that order), then what was measured so far is written; before that, or on a second Ctrl-C,
  // exit at once: the launchers' exit hooks (src/stack/node-process.ts,
  // src/harness/prosody-process.ts) kill what was already started.
  let ctx: BenchContext | undefined;
  let stopping: Promise<void> | undefined;
  let interrupted = false;
  const stop = () => {
    stopping ??= ctx?.close() ?? Promise.resolve();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || !ctx) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${PROGRAM}: ${signal}, stopping everything the run started…\n`);
    void stop()
      .then(() => {
        failures.push({ name: 'run', error: `interrupted by ${signal}` });
        report();
      })
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  logger.info({ meters: options.meters, shards: options.shards }, 'starting the stack');
  ctx = await createBenchContext(options, logger);
  const context = ctx;

  const runOne = async (name: ScenarioName, run: (c: BenchContext) => Promise<ScenarioResult>) => {
    const t0 = performance.now();
    logger.info({ scenario: name }, 'scenario');
    if (interrupted) return;
    try {
      // Later scenarios reuse the fleet: without it they would measure nothing.
      if (name !== 'onboarding') context.assertFleetRunning();
      results.push(await run(context));
    } catch (error) {
      // Stopping for a signal fails the running scenario: that is not a result.
      if (interrupted) return;
      logger.error({ scenario: name, err: (error as Error).message }, 'scenario failed');
      failures.push({ name, error: (error as Error).stack ?? String(error) });
    } finally {
      timings[name] = Math.round(performance.now() - t0) / 1000;
    }
  };
  try {
    await runOne('onboarding', runOnboarding);
    if (!options.only.has('onboarding')) results.pop();
    // Without its meters online nothing else means anything.
    if (context.onboarding) {
      for (const [name, run] of laterScenarios(options.only)) {
        if (options.only.has(name)) await runOne(name, run);
      }
    }
  } finally {
    await stop();
  }
  // After a signal the handler reports what was measured and exits.
  if (interrupted) return new Promise<number>(() => {});
  report();
  return failures.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) process.exit(2);
    process.exit(reportCliError(PROGRAM, error));
  },
);
