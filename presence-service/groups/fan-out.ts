import { boundedMap } from '../../src/util/bounded-map.js';
import type { CommandOutcome, CommandRunner } from '../commands/command-client.js';

// PROTOCOL §7: one command, many meters. Runs it on every member with a bounded concurrency
// and a per-meter timeout, and sums up: how many succeeded, failed, timed out, and which.

export interface MeterResult {
  meterId: string;
  outcome: CommandOutcome;
  durationMs: number;
}

export interface FanOutSummary {
  total: number;
  ok: number;
  failed: number;
  timedOut: number;
  offline: number;
  /** Members that did not succeed, by what happened. */
  failures: Array<{ meterId: string; kind: 'error' | 'timeout' | 'offline'; detail: string }>;
  durationMs: number;
}

export async function fanOut(deps: {
  members: readonly string[];
  node: string;
  form: Record<string, string[]>;
  run: CommandRunner;
  concurrency: number;
  timeoutMs: number;
  onResult?: (result: MeterResult) => void;
  /** True once the service is stopping: members not yet asked are left out. */
  cancelled?: () => boolean;
}): Promise<{ summary: FanOutSummary; results: MeterResult[] }> {
  const started = Date.now();
  const results: MeterResult[] = [];
  await boundedMap(deps.members, deps.concurrency, async (meterId) => {
    if (deps.cancelled?.()) return;
    const t0 = Date.now();
    const outcome = await runBounded(deps.run, meterId, deps.node, deps.form, deps.timeoutMs);
    const result = { meterId, outcome, durationMs: Date.now() - t0 };
    results.push(result);
    deps.onResult?.(result);
  });
  return { summary: summarize(results, Date.now() - started), results };
}

/**
 * The runner is asked to give up after `timeoutMs`; this makes sure of it, and turns a runner
 * that throws into an error outcome, so that one meter can neither stall nor sink a fan-out and
 * every member is counted exactly once.
 */
async function runBounded(
  run: CommandRunner,
  meterId: string,
  node: string,
  form: Record<string, string[]>,
  timeoutMs: number,
): Promise<CommandOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<CommandOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  try {
    return await Promise.race([
      run(meterId, node, form, timeoutMs).catch(
        (error: unknown): CommandOutcome => ({
          kind: 'error',
          condition: 'internal',
          text: error instanceof Error ? error.message : String(error),
        }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function summarize(results: readonly MeterResult[], durationMs: number): FanOutSummary {
  const summary: FanOutSummary = {
    total: results.length,
    ok: 0,
    failed: 0,
    timedOut: 0,
    offline: 0,
    failures: [],
    durationMs,
  };
  for (const { meterId, outcome } of results) {
    switch (outcome.kind) {
      case 'ok':
        summary.ok += 1;
        break;
      case 'error':
        summary.failed += 1;
        summary.failures.push({
          meterId,
          kind: 'error',
          detail: outcome.text ? `${outcome.condition}: ${outcome.text}` : outcome.condition,
        });
        break;
      case 'timeout':
        summary.timedOut += 1;
        summary.failures.push({ meterId, kind: 'timeout', detail: 'no answer' });
        break;
      case 'offline':
        summary.offline += 1;
        summary.failures.push({ meterId, kind: 'offline', detail: outcome.condition });
        break;
    }
  }
  summary.failures.sort((a, b) => a.meterId.localeCompare(b.meterId));
  return summary;
}

/**
 * One line for a chat window: "48 of 50 ok; 2 timed out: mtr-0007, mtr-0031 (2.0 s)"; at most
 * 20 meters are named per kind, the rest are in the job's results.
 */
export function describeSummary(summary: FanOutSummary): string {
  const parts = [`${summary.ok} of ${summary.total} ok`];
  const named = (kind: string, label: string) => {
    // A failure names its condition (`mtr-0003 (not-allowed)`): why matters as much as who.
    const ids = summary.failures
      .filter((f) => f.kind === kind)
      .map((f) => (kind === 'error' ? `${f.meterId} (${f.detail.split(':')[0]})` : f.meterId));
    if (ids.length > 0) {
      const shown = ids.slice(0, 20).join(', ');
      parts.push(`${ids.length} ${label}: ${shown}${ids.length > 20 ? ', …' : ''}`);
    }
  };
  named('timeout', 'timed out');
  named('offline', 'offline');
  named('error', 'failed');
  return `${parts.join('; ')} (${(summary.durationMs / 1000).toFixed(1)} s)`;
}
