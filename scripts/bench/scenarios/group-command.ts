import { readFileSync } from 'node:fs';
import { buildCommandRequest, parseCommandResponse } from '../../../src/protocol/adhoc.js';
import { NS_COMMANDS } from '../../../src/protocol/namespaces.js';
import { loginAccount } from '../../../src/stack/measurement-stack.js';
import { cpuMeter } from '../../../src/stack/process-cpu.js';
import { waitFor } from '../../../src/stack/wait.js';
import { summarize } from '../../../src/util/percentiles.js';
import { BENCH_GROUP, type BenchContext } from '../context.js';
import type { ScenarioResult } from '../report.js';

// Group command (issue 6, PROTOCOL §7): `read` to a group of G meters through the service's HTTP
// API, time until the job's summary is there. Floor: G sequential round trips of the same
// command (an operator's client to one meter at a time, p50) divided by the service's
// concurrency: what the fan-out would take if the meters answered in parallel at that speed.

const ARGS = { registers: ['1-0:1.8.0'] };
const now = () => performance.now();

export async function runGroupCommand(ctx: BenchContext): Promise<ScenarioResult> {
  const { stack, options } = ctx;
  const members = ctx.meterIds.slice(0, options.groupSize);
  const samples = options.quick ? 50 : 200;
  const concurrency = (
    JSON.parse(readFileSync(stack.serviceConfigFile, 'utf8')) as { groups: { concurrency: number } }
  ).groups.concurrency;

  // The floor: sequential round trips from the stack's operator (in every meter's ACL).
  const operator = await loginAccount(stack, 'operator', stack.operator.password, 'bench');
  const roundTrips: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const to = `${members[i % members.length]}@${stack.prosody.domain}/agent`;
      const t0 = now();
      const reply = await operator.iqCaller.set(
        buildCommandRequest({ node: 'urn:gridpresence:cmd:read', action: 'complete', form: ARGS }),
        to,
      );
      roundTrips.push(now() - t0);
      const parsed = parseCommandResponse(reply?.attrs.xmlns === NS_COMMANDS ? reply : undefined);
      if (!parsed.ok || parsed.value.status !== 'completed') {
        throw new Error(`read to ${to} did not complete`);
      }
    }
  } finally {
    await operator.stop();
  }
  const single = summarize(roundTrips);
  const floorMs = (members.length * single.p50) / concurrency;

  const cpu = [stack.prosody.pid, stack.service.pid, ...ctx.fleet.map((f) => f.pid)].map((pid) =>
    cpuMeter(pid),
  );
  const t0 = now();
  const { jobId } = await ctx.api<{ jobId: number }>(`/api/groups/${BENCH_GROUP}/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ command: 'read', args: ARGS }),
  });
  const summary = await waitFor(
    `group job ${jobId} to finish`,
    async () =>
      (
        await ctx.api<{ summary: { ok: number; total: number; durationMs: number } | null }>(
          `/api/jobs/${jobId}?limit=1`,
        )
      ).summary ?? undefined,
    120_000,
    5,
  );
  const elapsedMs = now() - t0;
  const [prosodyCpu, serviceCpu, ...fleetCpu] = cpu.map((m) => m.stop());
  const job = await ctx.api<{ results: Array<{ durationMs: number | null }> }>(
    `/api/jobs/${jobId}?limit=${members.length}`,
  );
  const perMeter = summarize(
    job.results.flatMap((r) => (r.durationMs === null ? [] : [r.durationMs])),
  );
  const ratio = elapsedMs / floorMs;
  return {
    name: 'group-command',
    figures: [
      {
        scenario: 'group-command',
        measure: `'read' to ${members.length} meters → summary`,
        value: elapsedMs,
        unit: 'ms',
        floor: {
          value: floorMs,
          unit: 'ms',
          what: `${members.length} × ${single.p50.toFixed(2)} ms ÷ ${concurrency}`,
        },
        ratio,
        target: { text: '≤ 2000 ms', met: elapsedMs <= 2_000 },
      },
      {
        scenario: 'group-command',
        measure: 'meters ok',
        value: summary.ok,
        unit: `of ${summary.total}`,
        target: { text: `all ${members.length}`, met: summary.ok === members.length },
      },
    ],
    details: {
      groupSize: members.length,
      concurrency,
      timeToSummaryMs: elapsedMs,
      serviceDurationMs: summary.durationMs,
      summary,
      sequentialRoundTripMs: single,
      floorMs,
      perMeterInJobMs: perMeter,
      cpuPercent: {
        prosody: prosodyCpu?.percent,
        service: serviceCpu?.percent,
        fleet: fleetCpu.map((c) => c.percent),
      },
    },
    notes: [
      `${samples} sequential 'read' round trips from the operator's client for the floor; the group's meters are spread over ${ctx.fleet.length} fleet processes`,
    ],
  };
}
