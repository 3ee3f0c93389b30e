import { cpuMeter } from '../../../src/stack/process-cpu.js';
import { type Summary, summarize } from '../../../src/util/percentiles.js';
import type { BarePath } from '../bare-path.js';
import {
  awaitAnswers,
  type Change,
  createChangeDriver,
  firePaced,
  recordChanges,
} from '../change-driver.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../report.js';

// Presence latency (issue 6): a meter's state change → committed in the service's store →
// delivered on the SSE stream, at a set rate of changes with N meters online. Each sample runs
// from the moment the agent applied the change (its clock) to the record's arrival on
// /api/events (the bench's clock, same machine). Floor: the same presence from a bare client to
// a bare component through the same Prosody, at the same rate (bare-path.ts).

export interface LatencyFloor {
  rate: number;
  samples: number;
  lost: number;
  latencyMs: Summary;
}

const preciseNow = () => performance.timeOrigin + performance.now();

export async function measureLatencyFloor(
  ctx: BenchContext,
  bare: BarePath,
): Promise<LatencyFloor> {
  const { latencyRate: rate, latencySeconds: seconds } = ctx.options;
  const arrivals = new Map<string, number>();
  const off = bare.onArrival((key, atMs) => arrivals.set(key, atMs));
  const sent = new Map<string, number>();
  let nextSeq = 1000;
  try {
    await firePaced(rate, rate * seconds, (i) => {
      const c = i % bare.clients.length;
      nextSeq += 1;
      const seq = nextSeq;
      const client = bare.clients[c];
      sent.set(`${bare.usernames[c]}#${seq}`, preciseNow());
      client?.send(bare.presence(seq)).catch(() => {});
    });
    const deadline = Date.now() + 10_000;
    while (arrivals.size < sent.size && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    off();
  }
  const samples = [...sent].flatMap(([key, at]) => {
    const arrived = arrivals.get(key);
    return arrived === undefined ? [] : [arrived - at];
  });
  return {
    rate,
    samples: sent.size,
    lost: sent.size - samples.length,
    latencyMs: summarize(samples),
  };
}

export async function runPresenceLatency(
  ctx: BenchContext,
  floor: LatencyFloor | undefined,
): Promise<ScenarioResult> {
  const { stack, options } = ctx;
  const { latencyRate: rate, latencySeconds: seconds } = options;
  if (!floor) throw new Error('the floor of the presence path was not measured');
  const meters = ctx.meterIds.slice(0, Math.min(ctx.meterIds.length, rate));
  const driver = createChangeDriver(ctx);
  const recorder = await recordChanges(ctx);
  try {
    // Open every control connection first: the first change of a meter must not pay for it.
    await Promise.all(
      meters.map((id) =>
        ctx.control.request(stack.agents.get(id)?.dataDir as string, { op: 'status' }),
      ),
    );
    const cpu = [stack.prosody.pid, stack.service.pid, ...ctx.fleet.map((f) => f.pid)].map((pid) =>
      cpuMeter(pid),
    );
    const changes: Change[] = [];
    let errors = 0;
    const pace = await firePaced(rate, rate * seconds, (i) => {
      driver
        .toggle(meters[i % meters.length] as string)
        .then((change) => changes.push(change))
        .catch(() => {
          errors += 1;
        });
    });
    await awaitAnswers(() => changes.length + errors, rate * seconds, 10_000);
    const missing = await recorder.waitForKeys(
      changes.map((c) => c.key),
      10_000,
    );
    const [prosodyCpu, serviceCpu, ...fleetCpu] = cpu.map((m) => m.stop());
    const samples = changes.flatMap((c) => {
      const arrived = recorder.arrivalOf(c.key);
      return arrived === undefined ? [] : [arrived - c.atMs];
    });
    const ours = summarize(samples);
    const f = floor.latencyMs;
    return {
      name: 'presence-latency',
      figures: [
        {
          scenario: 'presence-latency',
          measure: `change → SSE p50, ${rate}/s`,
          value: ours.p50,
          unit: 'ms',
          floor: { value: f.p50, unit: 'ms', what: 'bare client → bare component' },
          ratio: ours.p50 / f.p50,
          target: { text: '≤ 2× floor', met: ours.p50 <= 2 * f.p50 },
        },
        {
          scenario: 'presence-latency',
          measure: `change → SSE p99, ${rate}/s`,
          value: ours.p99,
          unit: 'ms',
          floor: { value: f.p99, unit: 'ms', what: 'bare client → bare component' },
          ratio: ours.p99 / f.p99,
          target: { text: '≤ 10 ms', met: ours.p99 <= 10 },
        },
        {
          scenario: 'presence-latency',
          measure: `change → SSE max, ${rate}/s`,
          value: ours.max,
          unit: 'ms',
          floor: { value: f.max, unit: 'ms', what: 'bare client → bare component' },
          ratio: ours.max / f.max,
        },
      ],
      details: {
        rate,
        seconds,
        metersChanging: meters.length,
        meters: options.meters,
        changes: changes.length,
        lost: missing.length,
        driverErrors: errors,
        pacing: pace,
        changeToSseMs: ours,
        floor,
        cpuPercent: {
          prosody: prosodyCpu?.percent,
          service: serviceCpu?.percent,
          fleet: fleetCpu.map((c) => c.percent),
        },
      },
      notes: [
        `${rate * seconds} changes (metrology fault set/cleared) over ${meters.length} meters with ${options.meters} online; ${missing.length} not recorded within 10 s, ${errors} not applied`,
      ],
    };
  } finally {
    // Also after a failure: a meter left in fault would count as not back in later scenarios.
    await driver.restore(recorder).finally(() => recorder.close());
  }
}
