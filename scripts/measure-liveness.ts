import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import xml from '@xmpp/xml';
import { LIVENESS_DEFAULTS } from '../presence-service/config.js';
import { worstCaseDetectionMs } from '../presence-service/liveness/liveness-limits.js';
import { reportCliError } from '../src/cli/report-error.js';
import { ensureProsodyInstalled } from '../src/harness/index.js';
import { createRootLogger, type Logger, silentLogger } from '../src/log.js';
import { loginAccount } from '../src/stack/measurement-stack.js';
import { cpuMeter } from '../src/stack/process-cpu.js';
import { meterIdFor, type Stack, startStack } from '../src/stack/start-stack.js';
import { waitFor } from '../src/stack/wait.js';
import { summarize } from '../src/util/percentiles.js';

// `npm run measure:liveness` (issue 4): (1) how long a silent meter (SIGSTOP: the TCP link stays
// open, nothing answers) takes to be recorded decoupled/no-response with the default settings,
// over N trials at random phases of its heartbeat, beside the floor of Prosody noticing the same
// silence by itself; (2) what polling 10,000 meters once a minute costs the server side:
// stanzas/s and the CPU of Prosody and the service over one whole period, beside the idle floor.

const HELP = `Usage: npm run measure:liveness -- [--trials 20] [--load-meters 10000]
         [--heartbeat-meters 0] [--shards 4]

Part 1 starts Prosody, the service and 5 meter agents (a process each) with the shipped
liveness defaults, freezes meters with SIGSTOP and times their detection.
Part 2 (skipped with --load-meters 0) starts N meters in --shards fleet processes with a
status poll of every meter once a minute, and measures one idle minute and one polling minute.
Part 3 (--heartbeat-meters N) measures a minute of the liveness defaults (5 s heartbeats,
silent-death detection on) with N meters, then the same meters without either (the floor).
Writes bench/results/liveness-<time>.json.
`;

interface HistoryRow {
  state: string;
  reason: { code: string } | null;
  source: string;
  receivedAt: string;
}

/** GET with the stack's API token (docs/http-auth.md). */
const getJson = async <T>(stack: Stack, url: string): Promise<T> => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${stack.apiToken}` } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};
const history = async (stack: Stack, id: string) =>
  (await getJson<{ changes: HistoryRow[] }>(stack, `${stack.apiUrl}/api/meters/${id}/history`))
    .changes;
const stateOf = async (stack: Stack, id: string) =>
  (await getJson<{ state: string }>(stack, `${stack.apiUrl}/api/meters/${id}`)).state;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function tempStack(meterCount: number, options: Partial<Parameters<typeof startStack>[0]>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'gp-liveness-'));
  const stack = await startStack({
    dataDir,
    meterCount,
    logger: silentLogger(),
    serviceLogLevel: 'warn',
    ...options,
    agentConfig: { meter: { eventRatePerHour: 0 }, log: { level: 'warn' }, ...options.agentConfig },
  });
  return {
    stack,
    async close() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Part 1: detection time of a frozen meter, and Prosody's own time to notice, per trial. */
async function measureDetection(trials: number, logger: Logger) {
  const meters = 5;
  const { stack, close } = await tempStack(meters, {});
  try {
    const ids = Array.from({ length: meters }, (_, i) => meterIdFor(i));
    for (const id of ids) stack.startAgent(id);
    await waitFor(
      'every meter available',
      async () => {
        const states = await Promise.all(ids.map((id) => stateOf(stack, id)));
        return states.every((s) => s === 'available') || undefined;
      },
      60_000,
      200,
    );
    // The floor: Prosody noticing the silence by itself, seen by a subscribed operator client.
    const operator = await loginAccount(stack, 'operator', stack.operator.password, 'measure');
    const serverSaysGone = new Map<string, number>();
    operator.on('stanza', (stanza) => {
      if (stanza.is('presence') && stanza.attrs.type === 'unavailable') {
        const meterId = String(stanza.attrs.from).split('@')[0] as string;
        serverSaysGone.set(meterId, Date.now());
      }
    });
    for (const id of ids) {
      await operator.send(
        xml('presence', { to: `${id}@${stack.prosody.domain}`, type: 'subscribe' }),
      );
    }
    await operator.send(xml('presence'));

    const detectionMs: number[] = [];
    const serverMs: number[] = [];
    let done = 0;
    while (done < trials) {
      const round = ids.slice(0, Math.min(meters, trials - done));
      const lastRound = done + round.length >= trials;
      const results = await Promise.all(
        round.map(async (id) => {
          // A random phase against the meter's 5 s heartbeat.
          await sleep(Math.random() * 5_000);
          serverSaysGone.delete(id);
          const frozenAt = Date.now();
          stack.agents.get(id)?.process?.signal('SIGSTOP');
          const change = await waitFor(
            `${id} recorded no-response`,
            async () =>
              (await history(stack, id)).find(
                (c) =>
                  c.state === 'decoupled' &&
                  c.reason?.code === 'no-response' &&
                  Date.parse(c.receivedAt) >= frozenAt,
              ),
            60_000,
            100,
          );
          const detected = Date.parse(change.receivedAt) - frozenAt;
          let server: number | undefined;
          if (lastRound) {
            // Stay frozen until Prosody itself drops the session: the floor's figure.
            const goneAt = await waitFor(
              `Prosody to report ${id} gone`,
              async () => serverSaysGone.get(id),
              180_000,
              100,
            );
            server = goneAt - frozenAt;
          }
          stack.agents.get(id)?.process?.signal('SIGCONT');
          await waitFor(
            `${id} available again`,
            async () => ((await stateOf(stack, id)) === 'available' ? true : undefined),
            60_000,
            200,
          );
          return { detected, server };
        }),
      );
      for (const r of results) {
        detectionMs.push(r.detected);
        if (r.server !== undefined) serverMs.push(r.server);
      }
      done += round.length;
      logger.info({ done, trials }, 'detection trials');
    }
    await operator.stop();
    return { detectionMs, serverMs };
  } finally {
    await close();
  }
}

/** Part 2: one polling minute and one idle minute with N meters online. */
async function measurePollingLoad(meterCount: number, shards: number, logger: Logger) {
  const { stack, close } = await tempStack(meterCount, {
    // Only the polls are measured: no heartbeats, no silent-death pings, no readings.
    agentConfig: { presence: { heartbeatS: 0 }, telemetry: { intervalS: 86_400 } },
    service: {
      liveness: { enabled: false },
      // Every meter once in the even minute (spread over 55 s), nothing in the odd one: the
      // load of polling once a minute, and its idle floor, in two neighbouring minutes.
      polling: {
        schedules: [{ name: SCHEDULE, cron: '*/2 * * * *', kind: 'status', spreadS: 55 }],
      },
    },
  });
  try {
    const started = Date.now();
    // Logins paced for one Prosody: issue 6 measures how fast onboarding can go.
    stack.startFleet(shards, Math.max(5, Math.ceil(20 / shards)));
    await waitFor(
      `all ${meterCount} meters available`,
      async () => {
        const body = await getJson<{ counts: Record<string, number> }>(
          stack,
          `${stack.apiUrl}/api/stats`,
        );
        return body.counts.available === meterCount || undefined;
      },
      600_000,
      1_000,
    );
    const onlineAfterS = (Date.now() - started) / 1000;
    logger.info({ meters: meterCount, seconds: Math.round(onlineAfterS) }, 'fleet online');

    // The next even minute; skip one that is too close to set up for.
    let firing = Math.ceil(Date.now() / 120_000) * 120_000;
    if (firing - Date.now() < 2_000) firing += 120_000;
    const before = (await pollRuns(stack)).length;
    logger.info({ at: new Date(firing).toISOString() }, 'waiting for the polling minute');
    await sleep(firing - Date.now());
    const pollingWindow = meterCpu(stack);
    await sleep(60_000);
    const polling = pollingWindow.stop();
    const idleWindow = meterCpu(stack);
    await sleep(59_000);
    const idle = idleWindow.stop();
    const runs = await pollRuns(stack);
    const run = runs[0];
    if (!run || runs.length <= before || !run.finishedAt) {
      throw new Error(`the polling run did not finish within its minute: ${JSON.stringify(run)}`);
    }
    const polls = Object.values(run.counts).reduce((a, b) => a + b, 0);
    // Each status poll is an IQ get routed by Prosody to the meter, and its result routed back.
    const stanzasPerS = (2 * polls) / polling.prosody.wallS;
    return { meters: meterCount, shards, onlineAfterS, idle, polling, run, stanzasPerS };
  } finally {
    await close();
  }
}

const SCHEDULE = 'load-status';

/** Part 3: a minute of the liveness defaults, then a minute without heartbeats or liveness. */
async function measureHeartbeatLoad(meterCount: number, shards: number, logger: Logger) {
  const { stack, close } = await tempStack(meterCount, {
    agentConfig: { telemetry: { intervalS: 86_400 } },
  });
  try {
    const online = async () => {
      const fleet = stack.startFleet(shards, Math.max(5, Math.ceil(20 / shards)));
      await waitFor(
        `all ${meterCount} meters available`,
        async () => {
          const url = `${stack.apiUrl}/api/stats`;
          const body = await getJson<{ counts: Record<string, number> }>(stack, url);
          return body.counts.available === meterCount || undefined;
        },
        600_000,
        1_000,
      );
      await sleep(10_000); // let the logins' tail settle
      return fleet;
    };
    const fleet = await online();
    logger.info({ meters: meterCount }, 'measuring a minute of heartbeats and liveness');
    const window = meterCpu(stack);
    await sleep(60_000);
    const defaults = window.stop();
    const decoupled = (
      await getJson<{ counts: Record<string, number> }>(stack, `${stack.apiUrl}/api/stats`)
    ).counts.decoupled;

    // The floor: the same meters with heartbeats off, and the service without liveness.
    await Promise.all(fleet.map((f) => f.stop()));
    for (const handle of stack.agents.values()) {
      const config = JSON.parse(readFileSync(handle.configFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(handle.configFile, JSON.stringify({ ...config, presence: { heartbeatS: 0 } }));
    }
    const serviceConfig = JSON.parse(readFileSync(stack.serviceConfigFile, 'utf8')) as Record<
      string,
      unknown
    >;
    writeFileSync(
      stack.serviceConfigFile,
      JSON.stringify({ ...serviceConfig, liveness: { enabled: false } }),
      { mode: 0o600 },
    );
    await stack.service.stop();
    await stack.startService();
    await online();
    logger.info('measuring the floor minute');
    const floorWindow = meterCpu(stack);
    await sleep(60_000);
    const floor = floorWindow.stop();
    return {
      meters: meterCount,
      heartbeatS: 5,
      heartbeatsPerS: meterCount / 5,
      defaults,
      floor,
      falselyDecoupledDuringDefaults: decoupled,
    };
  } finally {
    await close();
  }
}

function meterCpu(stack: Stack) {
  const prosody = cpuMeter(stack.prosody.pid);
  const service = cpuMeter(stack.service.pid);
  return { stop: () => ({ prosody: prosody.stop(), service: service.stop() }) };
}

interface PollRun {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  meters: number;
  counts: Record<string, number>;
}

async function pollRuns(stack: Stack): Promise<PollRun[]> {
  const url = `${stack.apiUrl}/api/polls/${SCHEDULE}/runs?limit=5`;
  return (await getJson<{ runs: PollRun[] }>(stack, url)).runs;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '20' },
      'load-meters': { type: 'string', default: '10000' },
      shards: { type: 'string', default: '4' },
      'heartbeat-meters': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const trials = Number(values.trials);
  const loadMeters = Number(values['load-meters']);
  const shards = Number(values.shards);
  const logger = createRootLogger({ name: 'measure-liveness', level: 'info' });
  await ensureProsodyInstalled(logger);

  const detection = trials > 0 ? await measureDetection(trials, logger) : undefined;
  const load = loadMeters > 0 ? await measurePollingLoad(loadMeters, shards, logger) : undefined;
  const heartbeatMeters = Number(values['heartbeat-meters']);
  const heartbeat =
    heartbeatMeters > 0 ? await measureHeartbeatLoad(heartbeatMeters, shards, logger) : undefined;

  const bound = worstCaseDetectionMs(LIVENESS_DEFAULTS, 1_000);
  const result = {
    script: 'scripts/measure-liveness.ts',
    command: `npm run measure:liveness -- --trials ${trials} --load-meters ${loadMeters} --heartbeat-meters ${heartbeatMeters} --shards ${shards}`,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    settings: { ...LIVENESS_DEFAULTS, sweepEveryMs: 1_000, heartbeatS: 5, worstCaseMs: bound },
    detection: detection && {
      serviceMs: summarize(detection.detectionMs),
      samples: detection.detectionMs,
      floorProsodyAloneMs: summarize(detection.serverMs),
    },
    pollingLoad: load,
    heartbeatLoad: heartbeat,
  };
  let out = '';
  if (detection) {
    const d = summarize(detection.detectionMs);
    const f = summarize(detection.serverMs);
    out += `
silent meter (SIGSTOP) → recorded decoupled/no-response, ${d.count} trials, default settings
  median ${(d.p50 / 1000).toFixed(1)} s, max ${(d.max / 1000).toFixed(1)} s (bound ${bound / 1000} s)
floor: Prosody alone noticing it (read_timeout 15, hibernation 10), ${f.count} trials
  median ${(f.p50 / 1000).toFixed(1)} s, max ${(f.max / 1000).toFixed(1)} s; ratio of medians ${(d.p50 / f.p50).toFixed(2)}
`;
  }
  if (load) {
    const pct = (w: { percent: number }) => `${w.percent.toFixed(1)} %`.padStart(8);
    out += `
${load.meters} meters online (${load.shards} fleet processes) after ${load.onlineAfterS.toFixed(0)} s
status poll of every meter once a minute: ${load.run.meters} polled, counts ${JSON.stringify(load.run.counts)}
  stanzas routed by Prosody for polls: ${load.stanzasPerS.toFixed(0)}/s
                       polling minute   idle minute (floor)   (% of one core)
  Prosody               ${pct(load.polling.prosody)}         ${pct(load.idle.prosody)}
  presence service      ${pct(load.polling.service)}         ${pct(load.idle.service)}
`;
  }
  if (heartbeat) {
    const pct = (w: { percent: number }) => `${w.percent.toFixed(1)} %`.padStart(8);
    out += `
${heartbeat.meters} meters with the liveness defaults (${heartbeat.heartbeatsPerS}/s heartbeats; ${heartbeat.falselyDecoupledDuringDefaults} decoupled)
                       defaults minute   no heartbeat, no liveness (floor)
  Prosody               ${pct(heartbeat.defaults.prosody)}          ${pct(heartbeat.floor.prosody)}
  presence service      ${pct(heartbeat.defaults.service)}          ${pct(heartbeat.floor.service)}
`;
  }
  process.stdout.write(out);
  mkdirSync('bench/results', { recursive: true });
  const file = join('bench/results', `liveness-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nwritten to ${file}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => process.exit(reportCliError('measure-liveness', error)),
);
