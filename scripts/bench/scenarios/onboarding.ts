import { cpuMeter, rssBytes } from '../../../src/stack/process-cpu.js';
import type { BenchContext } from '../context.js';
import { loginActivity, readLogEntries } from '../fleet-logs.js';
import type { ScenarioResult } from '../report.js';

// Onboarding (issue 6): N meters from cold, in K fleet processes with paced logins, until every
// one is online and recorded available by the service. Floor: Prosody's own CPU per login over
// the same window; Prosody is single-threaded, so 1 ÷ (CPU-s per login) is the most logins a
// second one core lets it take, whatever the clients do.

export async function runOnboarding(ctx: BenchContext): Promise<ScenarioResult> {
  const { stack, options, logger } = ctx;
  const n = options.meters;
  const perShard = Math.max(5, Math.ceil(options.loginConcurrency / options.shards));
  const prosodyRss0 = rssBytes(stack.prosody.pid);
  const prosodyCpu = cpuMeter(stack.prosody.pid);
  const serviceCpu = cpuMeter(stack.service.pid);
  const started = performance.now();
  ctx.fleet = stack.startFleet(options.shards, perShard);
  const fleetCpu = ctx.fleet.map((f) => cpuMeter(f.pid));
  logger.info({ meters: n, shards: options.shards, perShard }, 'onboarding: fleet started');

  let lastLog = 0;
  await ctx.waitWhileFleetRuns(
    `all ${n} meters online and recorded available`,
    async () => {
      const available = (await ctx.counts()).available ?? 0;
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        logger.info({ available, of: n }, 'onboarding');
      }
      return available === n || undefined;
    },
    // Generous: the known rate on 2 cores is about 85 logins/s.
    60_000 + n * 100,
    250,
  );
  const seconds = (performance.now() - started) / 1000;
  const prosody = prosodyCpu.stop();
  const service = serviceCpu.stop();
  const fleet = fleetCpu.map((m) => m.stop());
  const loginsPerS = n / seconds;
  const cpuPerLoginS = prosody.cpuS / n;
  const floorLoginsPerS = 1 / cpuPerLoginS;
  ctx.onboarding = { seconds, loginsPerS };
  // The logs of the whole onboarding (the fleet files are new: offset 0).
  const files = ctx.fleetLogFiles();
  const activity = loginActivity(
    readLogEntries(
      files,
      files.map(() => 0),
    ),
  );
  const ratio = loginsPerS / floorLoginsPerS;
  return {
    name: 'onboarding',
    figures: [
      {
        scenario: 'onboarding',
        measure: `${n} meters online and recorded`,
        value: seconds,
        unit: 's',
        target: { text: `all ${n} recorded`, met: true },
      },
      {
        scenario: 'onboarding',
        measure: 'logins/s',
        value: loginsPerS,
        unit: '/s',
        floor: {
          value: floorLoginsPerS,
          unit: '/s',
          what: `1 ÷ Prosody CPU ${(cpuPerLoginS * 1000).toFixed(2)} ms/login`,
        },
        ratio,
        target: { text: '≥ 0.80× floor', met: ratio >= 0.8 },
      },
    ],
    details: {
      meters: n,
      shards: options.shards,
      loginsInFlightPerShard: perShard,
      seconds,
      loginsPerS,
      prosodyCpuS: prosody.cpuS,
      prosodyCpuPercent: prosody.percent,
      prosodyCpuPerLoginMs: cpuPerLoginS * 1000,
      floorLoginsPerS,
      serviceCpuS: service.cpuS,
      serviceCpuPercent: service.percent,
      fleetCpuS: fleet.map((f) => f.cpuS),
      fleetCpuPercent: fleet.map((f) => f.percent),
      fleetCpuPerLoginMs: (1000 * fleet.reduce((a, f) => a + f.cpuS, 0)) / n,
      prosodyRssBeforeBytes: prosodyRss0,
      prosodyRssAfterBytes: rssBytes(stack.prosody.pid),
      logins: activity,
    },
    notes: [
      `${options.shards} fleet processes, ${perShard} first logins in flight each; Prosody's CPU over the window includes each session's roster, presence and subscription work`,
    ],
  };
}
