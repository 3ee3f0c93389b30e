#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { exitWhenFlushed, reportCliError, usageError } from '../src/cli/report-error.js';
import { runUntilSignal } from '../src/cli/run-until-signal.js';
import { EXIT } from '../src/errors.js';
import { createRootLogger } from '../src/log.js';
import { isLogLevel, LOG_LEVELS, type LogLevelState } from '../src/log-level.js';
import { loadAgentConfig } from './config.js';
import { controlRequest } from './control/control-client.js';
import { startAgent } from './main.js';
import { SIMULATION_INJECTIONS } from './meter/injections.js';

const PROGRAM = 'meter-agent';

const HELP = `Usage: meter-agent <command> [options]

Runs on a meter or IED: logs into the XMPP server, announces the meter's presence
(available, active, restricted, unavailable, decoupled) and answers the presence service.

Commands:
  run                  run the agent (the default); stops cleanly on SIGINT/SIGTERM
  status               print what the running agent reports (state, seq, connection)
  simulate <name>      drive the simulated meter of a running agent; names:
                       ${SIMULATION_INJECTIONS.join(', ')}
  maintenance on|off   switch maintenance mode (unavailable/maintenance) on a running agent
  doctor               check this meter's setup step by step (config, clock, DNS, TCP, TLS,
                       login, the service's subscription, meter link, disk); prints
                       OK/WARN/FAIL/SKIP per check and what to do; see docs/doctor.md
  log-level LEVEL      set a running agent's log level (fatal, error, warn, info, debug,
                       trace) for --minutes (default 60, 0 = until it restarts)
  fleet                run many meters in this one process: every <dir>/*/config.json
                       below --config-dir (simulators, load tests)

Options:
  -c, --config FILE    JSON config file (environment variables override single keys,
                       see docs/configuration.md); GP_AGENT_CONFIG also names it
      --config-dir DIR fleet: the directory of per-meter config directories
      --shard I/N      fleet: run only the I-th of N equal parts (1-based), so that
                       several processes can split one fleet
      --start-concurrency N
                       fleet: logins started at once by this process (default 50 ÷ N
                       shards, at least 5)
      --json           status, doctor: print JSON
      --timeout-ms N   doctor: time limit of each check (default 5000)
      --minutes N      log-level: back to the configured level after N minutes
  -h, --help           this help
  -v, --version        the version

Exit codes: 0 ok, 1 failure, 2 bad config or usage, 3 login refused, 4 agent not running.
`;

/** The commands that act on one agent, named by its config. */
const CONFIG_COMMANDS = ['run', 'status', 'simulate', 'maintenance', 'log-level', 'doctor'];

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usageError(PROGRAM, (error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  if (values.version) {
    process.stdout.write(`${process.env.npm_package_version ?? '0.1.0'}\n`);
    return EXIT.OK;
  }
  const [command = 'run', ...rest] = positionals;
  if (command === 'fleet') {
    if (!values['config-dir']) return usageError(PROGRAM, 'fleet needs --config-dir');
    const shard = parseShard(values.shard ?? '1/1');
    if (!shard)
      return usageError(PROGRAM, `--shard must be I/N with 1 <= I <= N, not '${values.shard}'`);
    const concurrency = Number(values['start-concurrency'] ?? Math.ceil(50 / shard.count));
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return usageError(PROGRAM, '--start-concurrency must be a whole number of at least 1');
    }
    return fleet(values['config-dir'], shard, Math.max(5, concurrency));
  }
  // Before the config: a mistyped command must be named, not reported as a missing config key.
  if (!CONFIG_COMMANDS.includes(command)) {
    return usageError(PROGRAM, `unknown command '${command}'`);
  }
  const configFile = values.config ?? process.env.GP_AGENT_CONFIG;
  // Before loading the config: a config that does not load is doctor's first finding.
  if (command === 'doctor') {
    // Loaded only for this command: a running agent should not carry doctor's code (RSS).
    const { parseTimeoutMs, runDoctor } = await import('./doctor/doctor.js');
    const timeoutMs = parseTimeoutMs(values['timeout-ms']);
    if (timeoutMs === undefined) return usageError(PROGRAM, '--timeout-ms must be 100 to 600000');
    return runDoctor({ configFile, json: values.json === true, timeoutMs });
  }
  const config = loadAgentConfig(configFile);

  switch (command) {
    case 'run':
      return run(config);
    case 'status': {
      const status = await controlRequest(config.dataDir, { op: 'status' });
      process.stdout.write(
        values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status),
      );
      return EXIT.OK;
    }
    case 'simulate': {
      const [name] = rest;
      if (!name) return usageError(PROGRAM, 'simulate needs an injection name');
      const result = await controlRequest(config.dataDir, { op: 'inject', name });
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return EXIT.OK;
    }
    case 'maintenance': {
      const [onOff, ...note] = rest;
      if (onOff !== 'on' && onOff !== 'off')
        return usageError(PROGRAM, 'maintenance takes on or off');
      const result = await controlRequest(config.dataDir, {
        op: 'maintenance',
        enable: onOff === 'on',
        note: note.join(' '),
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return EXIT.OK;
    }
    case 'log-level':
      return logLevel(config.dataDir, rest, values.minutes);
    default:
      return usageError(PROGRAM, `unknown command '${command}'`);
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      'config-dir': { type: 'string' },
      shard: { type: 'string' },
      'start-concurrency': { type: 'string' },
      json: { type: 'boolean' },
      'timeout-ms': { type: 'string' },
      minutes: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

async function run(config: ReturnType<typeof loadAgentConfig>): Promise<number> {
  const logger = createRootLogger({
    name: PROGRAM,
    level: config.log.level,
    format: config.log.format,
  });
  return runUntilSignal(PROGRAM, logger, await startAgent(config, logger));
}

/** `log-level LEVEL [--minutes N]`: through the control socket (docs/protocol.md extension). */
async function logLevel(dataDir: string, rest: string[], minutesText?: string): Promise<number> {
  const [level] = rest;
  if (!level || rest.length > 1 || !isLogLevel(level)) {
    return usageError(PROGRAM, `log-level takes one of ${LOG_LEVELS.join(', ')}`);
  }
  const minutes = minutesText === undefined ? undefined : Number(minutesText);
  if (minutes !== undefined && !(/^\d{1,5}$/.test(minutesText ?? '') && minutes <= 10_080)) {
    return usageError(PROGRAM, '--minutes must be a whole number from 0 to 10080');
  }
  const state = (await controlRequest(dataDir, {
    op: 'log-level',
    level,
    ...(minutes === undefined ? {} : { minutes }),
  })) as LogLevelState;
  const until = state.revertsAt ? ` until ${state.revertsAt}, then ${state.configured}` : '';
  process.stdout.write(`log level ${state.level}${until}\n`);
  return EXIT.OK;
}

function parseShard(text: string): { index: number; count: number } | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) return undefined;
  const index = Number(match[1]);
  const count = Number(match[2]);
  return index >= 1 && index <= count ? { index, count } : undefined;
}

async function fleet(
  configDir: string,
  shard: { index: number; count: number },
  startConcurrency: number,
): Promise<number> {
  const { findFleetConfigs, startFleet } = await import('./fleet.js');
  // Every count-th meter from index-1: shards of equal size whatever the meters' names.
  const configs = findFleetConfigs(configDir).filter((_, i) => i % shard.count === shard.index - 1);
  if (configs.length === 0) {
    return usageError(
      PROGRAM,
      `no */config.json below ${configDir} for shard ${shard.index}/${shard.count}`,
    );
  }
  const logger = createRootLogger({ name: PROGRAM, level: process.env.LOG_LEVEL ?? 'info' });
  return runUntilSignal(PROGRAM, logger, await startFleet(configs, logger, startConcurrency));
}

function formatStatus(report: unknown): string {
  const r = report as {
    meterId: string;
    jid: string;
    pid: number;
    uptimeS: number;
    connected: boolean;
    reconnects: number;
    status: { state: string; seq: number; since: string; reason?: { code: string; text?: string } };
    lastSentSeq: number;
    reportingIntervalS?: number;
    outbox?: { items: number; bytes: number; droppedTotal: number };
  };
  const reason = r.status.reason ? ` (${r.status.reason.code}: ${r.status.reason.text ?? ''})` : '';
  return [
    `meter        ${r.meterId}  (${r.jid}, pid ${r.pid}, up ${r.uptimeS} s)`,
    `state        ${r.status.state}${reason}`,
    `seq          ${r.status.seq}  since ${r.status.since}  (last sent ${r.lastSentSeq})`,
    `connection   ${r.connected ? 'online' : 'offline'}, ${r.reconnects} reconnects`,
    `data         every ${r.reportingIntervalS ?? '?'} s; outbox ${r.outbox?.items ?? 0} unacknowledged (${r.outbox?.bytes ?? 0} B), ${r.outbox?.droppedTotal ?? 0} readings dropped`,
    '',
  ].join('\n');
}

// Exit explicitly: a library timer left behind must not keep a stopped agent alive.
main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  (error: unknown) => exitWhenFlushed(reportCliError(PROGRAM, error)),
);
