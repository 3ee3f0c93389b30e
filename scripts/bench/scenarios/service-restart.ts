import { waitFor } from '../../../src/stack/wait.js';
import { createChangeDriver, recordChanges } from '../change-driver.js';
import type { BenchContext } from '../context.js';
import { logSize, readJsonLines } from '../fleet-logs.js';
import type { ScenarioResult } from '../report.js';

// Service restart (issue 6): the service SIGKILLed with N meters online and started again; the
// time until its current state is right. While it is down, M meters change state (a fault):
// their presences bounce off the missing component and are lost (XMPP-NOTES), so only the
// service's own recovery can learn them. Right means: every meter heard from since the restart
// (its record or its sign of life written after it), the M recorded in fault with the seq they
// announced, all the others available.

export async function runServiceRestart(ctx: BenchContext): Promise<ScenarioResult> {
  const { stack, options, probe } = ctx;
  const n = options.meters;
  const changedIds = ctx.meterIds.slice(-Math.min(100, Math.max(1, Math.floor(n / 10))));
  const logOffset = logSize(ctx.serviceLogFile());

  await stack.service.stop('SIGKILL');
  const driver = createChangeDriver(ctx);
  const changed = await Promise.all(changedIds.map((id) => driver.toggle(id)));
  const expectedSeq = new Map(changed.map((c) => [c.meterId, Number(c.key.split('#')[1])]));

  const startedIso = new Date().toISOString();
  const t0 = performance.now();
  await stack.startService();
  const healthyAfterS = (performance.now() - t0) / 1000;
  const progress = { changedRight: 0, heard: {} as Record<string, number> };
  await waitFor(
    "the restarted service to hold every meter's current state",
    () => {
      const states = probe.statesOf(changedIds);
      progress.changedRight = changedIds.filter((id) => {
        const s = states.get(id);
        return s?.state === 'unavailable' && s.seq === expectedSeq.get(id);
      }).length;
      progress.heard = probe.seenSince(startedIso);
      return (
        progress.changedRight === changedIds.length &&
        progress.heard.unavailable === changedIds.length &&
        progress.heard.available === n - changedIds.length
      );
    },
    60_000 + n * 10,
    100,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; reached ${JSON.stringify(progress)}`);
  });
  const rightAfterS = (performance.now() - t0) / 1000;
  const recovery = readJsonLines(ctx.serviceLogFile(), logOffset).find(
    (l) => l.msg === 'meter states recovered',
  );

  const recorder = await recordChanges(ctx);
  try {
    await driver.restore(recorder);
  } finally {
    recorder.close();
  }
  return {
    name: 'service-restart',
    figures: [
      {
        scenario: 'service-restart',
        measure: `SIGKILL → restart → state right, ${n} meters`,
        value: rightAfterS,
        unit: 's',
        target: { text: '≤ 10 s', met: rightAfterS <= 10 },
      },
    ],
    details: {
      meters: n,
      changedWhileDown: changedIds.length,
      startToHealthyS: healthyAfterS,
      startToRightS: rightAfterS,
      recoveryReport: recovery ?? null,
    },
    notes: [
      `${changedIds.length} meters changed state while the service was down; process start → /healthz 200 (component online) took ${healthyAfterS.toFixed(2)} s`,
    ],
  };
}
