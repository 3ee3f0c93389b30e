import { cpuMeter } from '../../../src/stack/process-cpu.js';
import { AGENT_BACKOFF, type BenchContext } from '../context.js';
import {
  backoffViolations,
  loginActivity,
  logSize,
  logSizes,
  readJsonLines,
  readLogEntries,
} from '../fleet-logs.js';
import type { ScenarioResult } from '../report.js';

// Reconnect storm (issue 6): Prosody restarted under N meters; the time until every meter is
// back and recorded (its current record written after the restart, available), the peak of
// logins offered per second, and a check in the fleet logs that no meter retried faster than
// its backoff allows. Floor: the onboarding of the same run.

export async function runReconnectStorm(ctx: BenchContext): Promise<ScenarioResult> {
  const { stack, options, probe } = ctx;
  const n = options.meters;
  const onboarding = ctx.onboarding;
  if (!onboarding) throw new Error('onboarding did not run: no floor');
  const files = ctx.fleetLogFiles();
  const offsets = logSizes(files);
  const serviceLogOffset = logSize(ctx.serviceLogFile());

  const startedIso = new Date().toISOString();
  const t0 = performance.now();
  await stack.prosody.restart();
  const prosodyBackAfterS = (performance.now() - t0) / 1000;
  await ctx.applyProsodyGc();
  const prosodyCpu = cpuMeter(stack.prosody.pid);
  // A storm that does not settle is a result too: after the limit the figures say how far it got.
  const limitS = 120 + n * 0.06;
  let lastLog = 0;
  let back = 0;
  await ctx
    .waitWhileFleetRuns(
      `all ${n} meters back and recorded`,
      () => {
        back = probe.recordedSince('available', startedIso);
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          ctx.logger.info({ back, of: n }, 'reconnect storm');
        }
        return back === n;
      },
      limitS * 1000,
      250,
    )
    .catch((error: Error) => {
      if (!error.message.startsWith('timed out')) throw error;
    });
  const seconds = (performance.now() - t0) / 1000;
  const allBack = back === n;
  const cpu = prosodyCpu.stop();
  // The fleets' log lines pass through this process: give the last ones time to land.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const entries = readLogEntries(files, offsets);
  const activity = loginActivity(entries);
  const backoff = backoffViolations(entries, AGENT_BACKOFF);
  // What the service went through meanwhile: its component link and its recovery sweeps.
  const serviceLines = readJsonLines(ctx.serviceLogFile(), serviceLogOffset);
  const service = {
    componentLost: serviceLines.filter((l) => l.msg === 'component connection lost').length,
    keepAliveDrops: serviceLines.filter((l) => l.why === 'keep-alive ping unanswered').length,
    recoveries: serviceLines
      .filter((l) => l.msg === 'meter states recovered')
      .map(({ online, offline, timedOut, errors, changes, durationMs }) => ({
        online,
        offline,
        timedOut,
        errors,
        changes,
        durationMs,
      })),
  };
  const ratio = seconds / onboarding.seconds;
  return {
    name: 'reconnect-storm',
    figures: [
      {
        scenario: 'reconnect-storm',
        measure: allBack
          ? `Prosody restart → all ${n} back and recorded`
          : `Prosody restart → limit, ${back} of ${n} back`,
        value: seconds,
        unit: 's',
        floor: { value: onboarding.seconds, unit: 's', what: 'onboarding, same run' },
        ratio,
        target: { text: '≤ 1.5× onboarding', met: allBack && ratio <= 1.5 },
      },
      {
        scenario: 'reconnect-storm',
        measure: 'meters back and recorded',
        value: back,
        unit: `of ${n}`,
        target: { text: `all ${n}`, met: allBack },
      },
      {
        scenario: 'reconnect-storm',
        measure: 'peak logins offered',
        value: activity.peakAttemptsPerS,
        unit: '/s',
        floor: { value: onboarding.loginsPerS, unit: '/s', what: 'onboarding rate' },
        ratio: activity.peakAttemptsPerS / onboarding.loginsPerS,
      },
      {
        scenario: 'reconnect-storm',
        measure: 'retries sooner than the backoff allows',
        value: backoff.violations.length,
        unit: `of ${backoff.checked}`,
        target: { text: '0', met: backoff.violations.length === 0 },
      },
    ],
    details: {
      meters: n,
      seconds,
      limitS,
      back,
      prosodyRestartS: prosodyBackAfterS,
      prosodyCpuPercentAfterRestart: cpu.percent,
      logins: activity,
      service,
      backoff: {
        ...AGENT_BACKOFF,
        checked: backoff.checked,
        violations: backoff.violations.slice(0, 20),
      },
    },
    notes: [
      `at the end ${activity.metersOnlineAtEnd} meters had a session up and ${activity.metersStopped} had stopped for good (fleet logs); the service lost its component link ${service.componentLost} times (${service.keepAliveDrops} by its own keep-alive) and ran ${service.recoveries.length} recovery sweeps`,
      `Prosody stopped (SIGTERM) and started again in ${prosodyBackAfterS.toFixed(1)} s; ${activity.failedAttempts} failed attempts, ${activity.metersRetried} meters retried; backoff ${AGENT_BACKOFF.baseMs}–${AGENT_BACKOFF.maxMs} ms, equal jitter, first retry spread over 0–${AGENT_BACKOFF.spreadMs} ms`,
    ],
  };
}
