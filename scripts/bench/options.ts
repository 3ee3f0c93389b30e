import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

// `npm run bench` options (issue 6). `--quick` changes the defaults, not the method: the same
// scenarios with fewer meters and shorter windows, so that the smoke test runs in about two
// minutes on a 2-core machine.

export const SCENARIOS = [
  'onboarding',
  'footprint',
  'group-command',
  'presence-latency',
  'change-throughput',
  'service-restart',
  'reconnect-storm',
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  meters: number;
  /** Fleet processes the meters are split over. */
  shards: number;
  /** First logins in flight at once, over all fleet processes (onboarding pacing). */
  loginConcurrency: number;
  only: ReadonlySet<ScenarioName>;
  /** Meters in the group that gets the group command. */
  groupSize: number;
  /** Presence latency: changes per second offered, and for how long. */
  latencyRate: number;
  latencySeconds: number;
  /** Change throughput: the hold at the highest rate found, and each step of the ramp. */
  throughputHoldSeconds: number;
  throughputStepSeconds: number;
  /** Where the JSON result goes. */
  outDir: string;
  /** Keep the run's temp dir (logs, databases) for a post-mortem. */
  keepDir: boolean;
  /** Where the service and the fleet processes write --cpu-prof profiles; undefined: none. */
  cpuProfDir: string | undefined;
  /** Switch the harness Prosody's Lua GC (prosody-gc.ts); undefined: as configured. */
  prosodyGc: 'incremental' | 'generational' | undefined;
}

export const HELP = `Usage: npm run bench -- [--quick] [--meters N] [--shards K] [--only a,b] [options]

Starts the harness Prosody and the presence service, brings N simulated meters online in K
\`meter-agent fleet\` processes, runs the scenarios of issue 6 on that one stack, prints a table
(scenario, measure, value, floor measured in the same run, ratio, target, met?) and writes
bench/results/bench-<date>.json with the machine, the versions and every figure. Targets are
printed, never asserted. Everything the run starts is stopped at its end, also on failure and
on Ctrl-C.

Scenarios, in the order they run (onboarding always runs: it brings the meters online):
  ${SCENARIOS.join(', ')}

Options:
      --quick                  a short run: 200 meters, 2 fleet processes, small windows
      --meters N               meters (default 10000; quick 200)
      --shards K               fleet processes (default 4; quick 2)
      --login-concurrency N    first logins in flight over all fleet processes (default 40)
      --only a,b               run only these scenarios (onboarding still brings meters online)
      --group-size N           group command size (default 1000; quick 100)
      --latency-rate N         presence latency: changes/s offered (default 1000; quick 200)
      --latency-seconds S      presence latency: seconds of changes (default 10; quick 5)
      --hold-seconds S         change throughput: seconds held at the rate found (default 60;
                               quick 10)
      --out DIR                where the JSON goes (default bench/results)
      --keep-dir               keep the run's temp dir (logs, databases)
      --cpu-prof DIR           run the service and the fleet processes under node --cpu-prof,
                               profiles into DIR (written when they stop; figures are slower)
      --prosody-gc MODE        switch Prosody's Lua GC to incremental or generational after
                               each start (default: as the config leaves it, incremental)
  -h, --help                   this help
`;

export class UsageError extends Error {}

export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      meters: { type: 'string' },
      shards: { type: 'string' },
      'login-concurrency': { type: 'string' },
      only: { type: 'string' },
      'group-size': { type: 'string' },
      'latency-rate': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'hold-seconds': { type: 'string' },
      out: { type: 'string', default: 'bench/results' },
      'keep-dir': { type: 'boolean', default: false },
      'prosody-gc': { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick === true;
  const meters = positiveInt('--meters', values.meters, quick ? 200 : 10_000);
  const only = parseOnly(values.only);
  return {
    quick,
    meters,
    shards: positiveInt('--shards', values.shards, quick ? 2 : 4),
    loginConcurrency: positiveInt('--login-concurrency', values['login-concurrency'], 40),
    only,
    groupSize: Math.min(
      meters,
      positiveInt('--group-size', values['group-size'], quick ? 100 : 1000),
    ),
    latencyRate: positiveInt('--latency-rate', values['latency-rate'], quick ? 200 : 1000),
    latencySeconds: positiveInt('--latency-seconds', values['latency-seconds'], quick ? 5 : 10),
    throughputHoldSeconds: positiveInt('--hold-seconds', values['hold-seconds'], quick ? 10 : 60),
    throughputStepSeconds: quick ? 2 : 10,
    outDir: values.out ?? 'bench/results',
    keepDir: values['keep-dir'] === true,
    prosodyGc: parseGc(values['prosody-gc']),
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
  };
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`${flag} must be a whole number of at least 1, not '${text}'`);
  }
  return value;
}

function parseGc(text: string | undefined): BenchOptions['prosodyGc'] {
  if (text === undefined || text === 'incremental' || text === 'generational') return text;
  throw new UsageError(`--prosody-gc takes incremental or generational, not '${text}'`);
}

function parseOnly(text: string | undefined): ReadonlySet<ScenarioName> {
  if (text === undefined) return new Set(SCENARIOS);
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(
      `--only takes scenario names from: ${SCENARIOS.join(', ')} (not '${unknown.join(',') || text}')`,
    );
  }
  return new Set(names as ScenarioName[]);
}
