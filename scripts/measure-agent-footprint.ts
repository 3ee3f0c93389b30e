import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { controlRequest } from '../meter-agent/control/control-client.js';
import { reportCliError } from '../src/cli/report-error.js';
import { ensureProsodyInstalled } from '../src/harness/index.js';
import { createRootLogger, silentLogger } from '../src/log.js';
import { startNodeProcess } from '../src/stack/node-process.js';
import { cpuMeter, rssBytes } from '../src/stack/process-cpu.js';
import { programPath } from '../src/stack/programs.js';
import { type Stack, startStack } from '../src/stack/start-stack.js';
import { waitFor } from '../src/stack/wait.js';

// `npm run measure:footprint` (issue 7 part 4): what ONE real single-meter agent costs on its
// own, resident memory (VmRSS, sampled) and CPU (utime+stime over the window), (a) idle with
// the default reporting interval and (b) reporting every second, beside the floor of an idle
// Node process measured over the same windows. The presence service runs too, so that readings
// are acknowledged and the agent works as in the field. A bundled single-file build
// (build/agent/meter-agent.*, `npm run build:agent`) is measured as a second program if present.

const HELP = `Usage: npm run measure:footprint -- [--seconds 60] [--bundle FILE]

Starts the harness Prosody, the presence service and one meter agent at a time
(dist/meter-agent/cli.js, and build/agent/meter-agent.* if it exists), and measures the
agent's RSS and CPU at idle (default reporting interval) and reporting every 1 s, each over
--seconds, beside an idle \`node -e 'setInterval(()=>{},1e9)'\`. --bundle FILE (repeatable)
measures those agent programs instead of build/agent/meter-agent.* (e.g. a build to compare).
Writes bench/results/footprint-<time>.json.
`;

const MB = 1024 * 1024;
const METER = 'mtr-0001';
const SETTLE_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Program {
  name: string;
  script: string;
}

interface Mode {
  name: string;
  /** telemetry.intervalS; undefined = the default of the config schema. */
  intervalS: number | undefined;
}

interface Window {
  rssMeanBytes: number;
  rssMaxBytes: number;
  rssEndBytes: number;
  cpuPercent: number;
  cpuS: number;
  wallS: number;
}

interface Row {
  program: string;
  mode: string;
  agent: Window;
  floor: Window;
  rssRatio: number;
  onlineAfterMs: number;
  /** The agent's own view at the end of the window (process.memoryUsage(), /proc status). */
  memory: Record<string, number> | undefined;
  proc: { rssAnonBytes: number; rssFileBytes: number };
}

const MODES: Mode[] = [
  { name: 'idle (default interval)', intervalS: undefined },
  { name: 'reporting every 1 s', intervalS: 1 },
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      bundle: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 1) throw new Error('--seconds must be at least 1');
  const logger = createRootLogger({ name: 'measure-footprint', level: 'info' });
  const programs: Program[] = [
    { name: 'dist/meter-agent/cli.js', script: programPath('meter-agent') },
  ];
  const bundles = values.bundle ?? [findBundle()].filter((b) => b !== undefined);
  for (const bundle of bundles) programs.push({ name: bundle, script: resolve(bundle) });

  await ensureProsodyInstalled(logger);
  const dataDir = mkdtempSync(join(tmpdir(), 'gp-footprint-'));
  const idle = startIdleNode();
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      dataDir,
      meterCount: 1,
      logger: silentLogger(),
      serviceLogLevel: 'warn',
      agentConfig: { meter: { eventRatePerHour: 0 } },
    });
    const rows: Row[] = [];
    let run = 0;
    for (const program of programs) {
      for (const mode of MODES) {
        run += 1;
        logger.info({ program: program.name, mode: mode.name, seconds }, 'measuring');
        rows.push(await measure(stack, dataDir, program, mode, idle, seconds * 1000, run));
      }
    }
    report(rows, seconds, programs);
    return 0;
  } finally {
    idle.kill('SIGKILL');
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function bundleArg(programs: Program[]): string {
  const given = programs.slice(1).filter((p) => p.name !== findBundle());
  return given.map((p) => ` --bundle ${p.name}`).join('');
}

/** build/agent/meter-agent.{js,mjs,cjs}: the single-file build, when someone has made it. */
function findBundle(): string | undefined {
  for (const ext of ['js', 'mjs', 'cjs']) {
    const file = join('build', 'agent', `meter-agent.${ext}`);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function startIdleNode(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not start an idle Node');
  return child;
}

/** One agent process (a fresh data dir each run, so no setting carries over), online, measured. */
async function measure(
  stack: Stack,
  dataDir: string,
  program: Program,
  mode: Mode,
  idle: ChildProcess,
  windowMs: number,
  run: number,
): Promise<Row> {
  const template = stack.agents.get(METER);
  if (!template) throw new Error(`no ${METER} in the stack`);
  const config = JSON.parse(readFileSync(template.configFile, 'utf8')) as Record<string, unknown>;
  const agentDir = join(dataDir, 'footprint', String(run));
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  const telemetry = { ...(config.telemetry as object) } as Record<string, unknown>;
  if (mode.intervalS !== undefined) telemetry.intervalS = mode.intervalS;
  const file = join(agentDir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...config, dataDir: agentDir, telemetry }), { mode: 0o600 });

  const started = performance.now();
  const agent = startNodeProcess({
    script: program.script,
    args: ['run', '--config', file],
    logFile: join(dataDir, 'logs', `footprint-${run}.log`),
  });
  try {
    await waitFor(
      `${program.name} online`,
      async () => {
        if (!agent.running) throw new Error(`the agent exited; see ${agent.logFile}`);
        const status = (await controlRequest(agentDir, { op: 'status' }).catch(() => null)) as {
          connected: boolean;
        } | null;
        return status?.connected || undefined;
      },
      30_000,
      100,
    );
    const onlineAfterMs = performance.now() - started;
    await sleep(SETTLE_MS);
    const idlePid = idle.pid as number;
    const agentCpu = cpuMeter(agent.pid);
    const floorCpu = cpuMeter(idlePid);
    const agentRss: number[] = [];
    const floorRss: number[] = [];
    const end = performance.now() + windowMs;
    while (performance.now() < end) {
      agentRss.push(rssBytes(agent.pid));
      floorRss.push(rssBytes(idlePid));
      await sleep(Math.min(1_000, Math.max(0, end - performance.now())));
    }
    const a = window(agentRss, agentCpu.stop());
    const f = window(floorRss, floorCpu.stop());
    const status = (await controlRequest(agentDir, { op: 'status' })) as {
      memory?: Record<string, number>;
    };
    return {
      program: program.name,
      mode: mode.name,
      agent: a,
      floor: f,
      rssRatio: a.rssMeanBytes / f.rssMeanBytes,
      onlineAfterMs: Math.round(onlineAfterMs),
      memory: status.memory,
      proc: procRss(agent.pid),
    };
  } finally {
    await agent.stop();
  }
}

function window(samples: number[], cpu: { cpuS: number; wallS: number; percent: number }): Window {
  return {
    rssMeanBytes: samples.reduce((s, v) => s + v, 0) / samples.length,
    rssMaxBytes: Math.max(...samples),
    rssEndBytes: samples.at(-1) ?? 0,
    cpuPercent: cpu.percent,
    cpuS: cpu.cpuS,
    wallS: cpu.wallS,
  };
}

/** Anonymous (heaps) and file-backed (the node binary's and libraries' code) resident pages. */
function procRss(pid: number): { rssAnonBytes: number; rssFileBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssAnonBytes: kb('RssAnon') * 1024, rssFileBytes: kb('RssFile') * 1024 };
}

function report(rows: Row[], seconds: number, programs: Program[]): void {
  const mb = (b: number) => (b / MB).toFixed(1).padStart(6);
  const pct = (p: number) => p.toFixed(2).padStart(6);
  const lines = rows.map((r) => {
    const m = r.memory;
    const heap = m
      ? `heap ${mb(m.heapUsed ?? 0)}/${mb(m.heapTotal ?? 0)} ext ${mb(m.external ?? 0)}`
      : '';
    return `${r.program.padEnd(30)} ${r.mode.padEnd(24)} ${mb(r.agent.rssMeanBytes)} ${mb(r.agent.rssMaxBytes)} ${pct(r.agent.cpuPercent)}   ${mb(r.floor.rssMeanBytes)} ${pct(r.floor.cpuPercent)}   ${r.rssRatio.toFixed(2).padStart(5)}×   anon ${mb(r.proc.rssAnonBytes)} file ${mb(r.proc.rssFileBytes)} ${heap}`;
  });
  process.stdout.write(`
one agent, ${seconds} s per window, RSS sampled every second (MB), CPU = utime+stime ÷ wall

program                        mode                     RSS    max   CPU %   floor RSS  CPU %  RSS ratio  breakdown at the end (MB)
${lines.join('\n')}

floor: an idle node -e 'setInterval(()=>{},1e9)', measured over the same windows
`);
  const date = new Date().toISOString();
  const result = {
    script: 'scripts/measure-agent-footprint.ts',
    command: `npm run measure:footprint -- --seconds ${seconds}${bundleArg(programs)}`,
    date,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      node: process.version,
      arch: process.arch,
    },
    programs: programs.map((p) => p.name),
    windowS: seconds,
    settleS: SETTLE_MS / 1000,
    rows,
  };
  mkdirSync('bench/results', { recursive: true });
  const file = join('bench/results', `footprint-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nwritten to ${file}\n`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(reportCliError('measure-footprint', error)),
);
