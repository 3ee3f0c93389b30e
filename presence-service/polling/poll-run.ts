import type { Logger } from '../../src/log.js';
import type { PollScheduleConfig } from '../config.js';
import {
  emptyCounts,
  type PollCounts,
  type PollKind,
  type PollResult,
  type PollStore,
} from '../store/poll-store.js';
import type { Clock } from './clock.js';
import type { PollRunner } from './poll-runner.js';
import { spreadOffsetMs } from './spread.js';

// One run of a polling schedule (docs/liveness.md "Polling"): every meter is polled at the firing
// time plus its own offset within the spread, at most `concurrency` at once (STYLE §9); a meter
// whose moment came while the limit was reached waits its turn, earliest first. The run is on
// record from its start (poll_runs) and gets its counts when the last poll has ended.

/** How often a long run logs its progress. */
const PROGRESS_EVERY_MS = 5_000;

export interface PollRunSummary {
  runId: number;
  schedule: string;
  kind: PollKind;
  /** ISO 8601 UTC. */
  startedAt: string;
  finishedAt: string;
  meters: number;
  counts: PollCounts;
  durationMs: number;
}

export interface PollRun {
  readonly id: number;
  readonly meters: number;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  /** Resolves once every poll has ended and the run is recorded; never rejects. */
  readonly done: Promise<PollRunSummary>;
  /** Starts no more polls: those not started count as skipped; those in flight run out. */
  stop(): void;
}

export interface PollRunDeps {
  config: Pick<PollScheduleConfig, 'name' | 'kind' | 'concurrency' | 'timeoutMs'>;
  members: readonly string[];
  /** The firing time the offsets count from (not when the timer ran: offsets stay stable). */
  firedAt: number;
  spreadMs: number;
  clock: Clock;
  poll: PollRunner;
  store: Pick<PollStore, 'startRun' | 'finishRun'>;
  /** While false (the XMPP link is down) a meter's XMPP poll counts as skipped. */
  isOnline(): boolean;
  logger: Logger;
}

export function startPollRun(deps: PollRunDeps): PollRun {
  const { config, clock, logger } = deps;
  const iso = (ms: number) => new Date(ms).toISOString();
  const queue = deps.members
    .map((meterId) => ({ meterId, dueAt: deps.firedAt + spreadOffsetMs(meterId, deps.spreadMs) }))
    .sort((a, b) => a.dueAt - b.dueAt || (a.meterId < b.meterId ? -1 : 1));
  const startedAt = clock.now();
  const id = deps.store.startRun({
    schedule: config.name,
    kind: config.kind,
    startedAt: iso(startedAt),
    meters: queue.length,
  });
  // E-mail polls leave by SMTP: a down XMPP link does not stop them.
  const overXmpp = config.kind !== 'email';
  const counts = emptyCounts();
  let next = 0;
  let inFlight = 0;
  let stopped = false;
  /** The timer waiting for the next meter's moment. */
  let timer: unknown;
  let lastProgressAt = startedAt;
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });

  /** Starts every poll that is due, up to the limit; the only place polls start. */
  function pump(): void {
    while (next < queue.length && inFlight < config.concurrency) {
      if (stopped) {
        counts.skipped += queue.length - next;
        next = queue.length;
        break;
      }
      const { meterId, dueAt } = queue[next] as { meterId: string; dueAt: number };
      const wait = dueAt - clock.now();
      if (wait > 0) {
        timer ??= clock.setTimeout(() => {
          timer = undefined;
          pump();
        }, wait);
        break;
      }
      next += 1;
      if (overXmpp && !deps.isOnline()) {
        // The link is down: recovery asks every meter when it is back.
        counts.skipped += 1;
        continue;
      }
      inFlight += 1;
      deps
        .poll(config.kind, meterId, config.timeoutMs)
        .catch(() => 'error' as const)
        .then((result: PollResult) => {
          counts[result] += 1;
          inFlight -= 1;
          progress();
          pump();
        });
    }
    if (next >= queue.length && inFlight === 0) settle();
  }

  function progress(): void {
    const now = clock.now();
    if (now - lastProgressAt < PROGRESS_EVERY_MS) return;
    lastProgressAt = now;
    logger.info(
      { schedule: config.name, runId: id, done: next - inFlight, meters: queue.length },
      'poll run in progress',
    );
  }

  function finish(): PollRunSummary {
    if (timer !== undefined) clock.clearTimeout(timer);
    const finishedAt = clock.now();
    const durationMs = finishedAt - startedAt;
    try {
      deps.store.finishRun(id, iso(finishedAt), counts);
    } catch (error) {
      logger.error({ runId: id, err: (error as Error).message }, 'poll run not recorded');
    }
    logger.info(
      {
        schedule: config.name,
        kind: config.kind,
        runId: id,
        meters: queue.length,
        counts,
        durationMs,
      },
      'poll run finished',
    );
    return {
      runId: id,
      schedule: config.name,
      kind: config.kind,
      startedAt: iso(startedAt),
      finishedAt: iso(finishedAt),
      meters: queue.length,
      counts,
      durationMs,
    };
  }

  const done = settled.then(finish);
  logger.debug(
    { schedule: config.name, runId: id, meters: queue.length, spreadMs: deps.spreadMs },
    'poll run started',
  );
  pump();

  return {
    id,
    meters: queue.length,
    startedAt,
    done,
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      pump();
    },
  };
}
