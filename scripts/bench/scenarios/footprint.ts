import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest } from '../../../meter-agent/control/control-client.js';
import { startNodeProcess } from '../../../src/stack/node-process.js';
import { rssBytes } from '../../../src/stack/process-cpu.js';
import { programPath } from '../../../src/stack/programs.js';
import { waitFor } from '../../../src/stack/wait.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../report.js';

// Footprint (issue 6): resident memory of one single-meter agent (its own process), of a virtual
// meter in fleet mode (the fleet processes' RSS less one empty Node each, per meter), and of the
// service and Prosody with N meters online. Floor: the RSS of a Node process that does nothing.

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runFootprint(ctx: BenchContext): Promise<ScenarioResult> {
  const { stack, options } = ctx;
  const idleNodeBytes = await idleNodeRss();
  const solo = await singleAgentRss(ctx, options.quick ? 2_000 : 5_000);

  const fleetBytes = ctx.fleet.map((f) => rssBytes(f.pid));
  const fleetTotal = fleetBytes.reduce((a, b) => a + b, 0);
  const perMeterBytes = (fleetTotal - ctx.fleet.length * idleNodeBytes) / options.meters;
  const serviceBytes = rssBytes(stack.service.pid);
  const prosodyBytes = rssBytes(stack.prosody.pid);
  const prosodyPerSessionBytes = (prosodyBytes - ctx.baseline.prosodyRssBytes) / options.meters;
  const idleFloor = { value: idleNodeBytes / MB, unit: 'MB', what: 'idle Node' };

  return {
    name: 'footprint',
    figures: [
      {
        scenario: 'footprint',
        measure: 'RSS of one single-meter agent',
        value: solo.rssBytes / MB,
        unit: 'MB',
        floor: idleFloor,
        ratio: solo.rssBytes / idleNodeBytes,
        target: { text: '≤ 60 MB', met: solo.rssBytes <= 60 * MB },
      },
      {
        scenario: 'footprint',
        measure: 'RSS per virtual meter (fleet)',
        value: perMeterBytes / 1024,
        unit: 'KB',
        floor: { ...idleFloor, what: 'idle Node, taken off each process' },
        target: { text: '≤ 100 KB', met: perMeterBytes <= 100 * 1024 },
      },
      {
        scenario: 'footprint',
        measure: `RSS of the service, ${options.meters} meters`,
        value: serviceBytes / MB,
        unit: 'MB',
        floor: idleFloor,
        ratio: serviceBytes / idleNodeBytes,
      },
      {
        scenario: 'footprint',
        measure: 'Prosody RSS per session',
        value: prosodyPerSessionBytes / 1024,
        unit: 'KB',
      },
    ],
    details: {
      idleNodeRssBytes: idleNodeBytes,
      singleAgent: solo,
      fleetRssBytes: fleetBytes,
      fleetMeters: options.meters,
      perVirtualMeterBytes: perMeterBytes,
      // The same, with one whole single-meter agent taken off each process instead of an idle
      // Node: what a meter adds beyond the program's own code and heap.
      perVirtualMeterBeyondOneAgentBytes:
        (fleetTotal - ctx.fleet.length * solo.rssBytes) / options.meters,
      serviceRssBytes: serviceBytes,
      serviceRssBeforeMetersBytes: ctx.baseline.serviceRssBytes,
      prosodyRssBytes: prosodyBytes,
      prosodyRssBeforeMetersBytes: ctx.baseline.prosodyRssBytes,
      prosodyPerSessionBytes,
    },
    notes: [
      `the single agent is measured ${options.quick ? 2 : 5} s after its session is up, with the same settings as the fleet's meters`,
    ],
  };
}

/** RSS of `node -e 'setInterval(()=>{},1e9)'` once it has settled. */
async function idleNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
  try {
    await sleep(1_500);
    if (child.pid === undefined) throw new Error('could not start an idle Node');
    return rssBytes(child.pid);
  } finally {
    child.kill('SIGKILL');
  }
}

/** One `meter-agent run` process for a meter outside the fleet, online, then stopped. */
async function singleAgentRss(
  ctx: BenchContext,
  settleMs: number,
): Promise<{ meterId: string; rssBytes: number; onlineAfterMs: number }> {
  const { meterId, password } = ctx.soloAccount;
  const template = ctx.stack.agents.get(ctx.meterIds[0] as string);
  if (!template) throw new Error('no agent config to copy');
  const dir = join(ctx.dataDir, 'solo', meterId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = JSON.parse(readFileSync(template.configFile, 'utf8')) as Record<string, unknown>;
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...config,
      meterId,
      dataDir: dir,
      xmpp: { ...(config.xmpp as object), password },
      meter: { ...(config.meter as object), seed: ctx.options.meters + 1 },
    }),
    { mode: 0o600 },
  );
  const started = performance.now();
  const agent = startNodeProcess({
    script: programPath('meter-agent'),
    args: ['run', '--config', file],
    logFile: join(ctx.dataDir, 'logs', `${meterId}.log`),
  });
  try {
    await waitFor(
      `${meterId} online`,
      async () => {
        if (!agent.running) throw new Error(`the single agent exited; see ${agent.logFile}`);
        const status = (await controlRequest(dir, { op: 'status' })) as { connected: boolean };
        return status.connected || undefined;
      },
      30_000,
      100,
    );
    const onlineAfterMs = performance.now() - started;
    await sleep(settleMs);
    return { meterId, rssBytes: rssBytes(agent.pid), onlineAfterMs };
  } finally {
    await agent.stop();
  }
}
