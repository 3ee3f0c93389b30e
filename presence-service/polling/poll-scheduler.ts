import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { PollScheduleConfig } from '../config.js';
import type { PollKind, PollStore } from '../store/poll-store.js';
import type { Clock } from './clock.js';
import { type CronSchedule, parseCron } from './cron.js';
import { type PollRun, type PollRunSummary, startPollRun } from './poll-run.js';
import type { PollRunner } from './poll-runner.js';

// Polling schedules (issue 4 §1, docs/liveness.md "Polling"). At each cron firing a schedule
// resolves its meters (a group's members, or every meter) and polls each one at the firing time
// plus the meter's own offset within the spread: the same phase every period, so 10,000 meters
// arrive as a steady trickle instead of a burst at the top of the minute; the run itself, with
// its concurrency bound, is poll-run.ts. This file owns the timers and the rules between runs.
// A firing that finds the schedule's previous run still going is skipped (an overrun), so a slow
// run never piles up behind itself. While the XMPP link is down XMPP polls count as skipped
// (the recovery sweep on reconnect asks every meter anyway); e-mail polls go on.

/** The default spread is this share of the time to the next firing... */
const DEFAULT_SPREAD_SHARE = 0.8;
/** ...and at most an hour: a daily schedule still finishes its polls soon after firing. */
const MAX_DEFAULT_SPREAD_MS = 3_600_000;
/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2_147_483_647;

export type { PollRunSummary } from './poll-run.js';

export interface ScheduleDescription {
  name: string;
  kind: PollKind;
  /** Null: every registered meter. */
  group: string | null;
  cron: string;
  /** ISO 8601 UTC; null when the scheduler is stopped or the expression never fires again. */
  nextRunAt: string | null;
  /** A run of this schedule is going on now. */
  running: boolean;
}

export interface StartedRun {
  runId: number;
  meters: number;
  /** Resolves when every poll of the run has finished and the run is recorded. */
  done: Promise<PollRunSummary>;
}

export interface PollScheduler {
  start(): void;
  /** Cancels pending timers and starts no more polls; resolves once running runs are recorded. */
  stop(): Promise<void>;
  /** Starts a run of the schedule now, without spread; throws GP_SCHEDULE_UNKNOWN or _BUSY. */
  startNow(name: string): StartedRun;
  /** startNow(name).done; rejects as startNow throws. */
  runNow(name: string): Promise<PollRunSummary>;
  describe(): ScheduleDescription[];
}

export interface PollSchedulerDeps {
  schedules: readonly PollScheduleConfig[];
  clock: Clock;
  /** Meter ids to poll, read at each firing; `undefined`: every registered meter. */
  membersOf(group: string | undefined): string[];
  poll: PollRunner;
  store: Pick<PollStore, 'startRun' | 'finishRun' | 'closeUnfinished'>;
  /** Whether the XMPP link is up now. */
  isOnline(): boolean;
  logger: Logger;
}

interface Schedule {
  config: PollScheduleConfig;
  cron: CronSchedule;
  nextAt: number | null;
  timer: unknown;
  run: PollRun | null;
}

export function createPollScheduler(deps: PollSchedulerDeps): PollScheduler {
  const { clock, store, logger } = deps;
  const schedules = new Map<string, Schedule>(
    deps.schedules.map((config) => [
      config.name,
      { config, cron: parseCron(config.cron), nextAt: null, timer: undefined, run: null },
    ]),
  );
  /** 'stopped': no firings and no new polls, also in a run started by hand. */
  let state: 'new' | 'started' | 'stopped' = 'new';
  let closedLeftovers = false;
  const iso = (ms: number) => new Date(ms).toISOString();

  function arm(schedule: Schedule, from: number): void {
    schedule.nextAt = schedule.cron.nextAfter(from);
    if (schedule.nextAt === null) {
      logger.warn({ schedule: schedule.config.name }, 'cron expression fires no more');
      return;
    }
    wait(schedule);
  }

  function wait(schedule: Schedule): void {
    const at = schedule.nextAt as number;
    const delay = Math.min(Math.max(0, at - clock.now()), MAX_TIMER_MS);
    schedule.timer = clock.setTimeout(() => {
      schedule.timer = undefined;
      if (state !== 'started') return;
      if (clock.now() < at) return wait(schedule); // a chained wait of more than 24 days
      fire(schedule, at);
    }, delay);
  }

  function fire(schedule: Schedule, firedAt: number): void {
    // From now, not from firedAt: after a stall (a suspended VM) the missed firings are not
    // run one after another; the next one is the next in the future.
    arm(schedule, Math.max(firedAt, clock.now()));
    const { name } = schedule.config;
    if (schedule.run) {
      logger.warn(
        { schedule: name, runId: schedule.run.id, runningSince: iso(schedule.run.startedAt) },
        'previous run still going: this firing is skipped (overrun)',
      );
      return;
    }
    try {
      // Offsets count from the firing time, not from when the timer ran, so they stay stable.
      void begin(schedule, firedAt, spreadMsOf(schedule, firedAt)).done;
    } catch (error) {
      logger.error({ schedule: name, err: (error as Error).message }, 'poll run failed to start');
    }
  }

  function spreadMsOf(schedule: Schedule, firedAt: number): number {
    const { spreadS } = schedule.config;
    if (spreadS !== undefined) return spreadS * 1000;
    if (schedule.nextAt === null) return 0;
    return Math.min(DEFAULT_SPREAD_SHARE * (schedule.nextAt - firedAt), MAX_DEFAULT_SPREAD_MS);
  }

  function begin(schedule: Schedule, firedAt: number, spreadMs: number): StartedRun {
    const run = startPollRun({
      config: schedule.config,
      members: deps.membersOf(schedule.config.group),
      firedAt,
      spreadMs,
      clock,
      poll: deps.poll,
      store,
      isOnline: deps.isOnline,
      logger,
    });
    schedule.run = run;
    // Registered before any caller's continuation: whoever awaits `done` sees the schedule free.
    const done = run.done.then((summary) => {
      schedule.run = null;
      return summary;
    });
    if (state === 'stopped') run.stop();
    return { runId: run.id, meters: run.meters, done };
  }

  /** A spread as long as the period makes every other firing an overrun: say so at start. */
  function warnIfSpreadTooLong({ config, cron, nextAt }: Schedule): void {
    if (config.spreadS === undefined || nextAt === null) return;
    const following = cron.nextAfter(nextAt);
    if (following === null || config.spreadS * 1000 < following - nextAt) return;
    logger.warn(
      { schedule: config.name, spreadS: config.spreadS, periodS: (following - nextAt) / 1000 },
      'spread not shorter than the time between firings: firings will be skipped as overruns',
    );
  }

  function scheduleNamed(name: string): Schedule {
    const schedule = schedules.get(name);
    if (!schedule)
      throw new GridpresenceError(ERROR_CODES.SCHEDULE_UNKNOWN, `no polling schedule '${name}'`);
    return schedule;
  }

  function startNow(name: string): StartedRun {
    const schedule = scheduleNamed(name);
    if (schedule.run) {
      throw new GridpresenceError(
        ERROR_CODES.SCHEDULE_BUSY,
        `schedule '${name}' is running (run ${schedule.run.id}); try when it has finished`,
      );
    }
    // By hand, now: no spread. The concurrency limit still bounds the load on the server.
    return begin(schedule, clock.now(), 0);
  }

  return {
    start() {
      if (state === 'started') return;
      state = 'started';
      if (!closedLeftovers) {
        closedLeftovers = true;
        const closed = store.closeUnfinished(iso(clock.now()));
        if (closed > 0) logger.warn({ runs: closed }, 'poll runs left unfinished by a stop');
      }
      for (const schedule of schedules.values()) {
        arm(schedule, clock.now());
        warnIfSpreadTooLong(schedule);
      }
      logger.info({ schedules: schedules.size }, 'polling schedules started');
    },

    async stop() {
      state = 'stopped';
      const running: Array<Promise<PollRunSummary>> = [];
      for (const schedule of schedules.values()) {
        if (schedule.timer !== undefined) clock.clearTimeout(schedule.timer);
        schedule.timer = undefined;
        schedule.nextAt = null;
        // The rest count as skipped; the polls in flight end within their timeout.
        schedule.run?.stop();
        if (schedule.run) running.push(schedule.run.done);
      }
      await Promise.all(running);
    },

    startNow,

    async runNow(name) {
      return startNow(name).done;
    },

    describe() {
      return [...schedules.values()].map(({ config, nextAt, run }) => ({
        name: config.name,
        kind: config.kind,
        group: config.group ?? null,
        cron: config.cron,
        nextRunAt: nextAt === null ? null : iso(nextAt),
        running: run !== null,
      }));
    },
  };
}
