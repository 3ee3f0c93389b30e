import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PollScheduleConfig } from '../../presence-service/config.js';
import type { Clock } from '../../presence-service/polling/clock.js';
import { cronProblem } from '../../presence-service/polling/cron.js';
import type { PollKind, PollResult } from '../../presence-service/polling/poll-runner.js';
import {
  createPollScheduler,
  type PollScheduler,
} from '../../presence-service/polling/poll-scheduler.js';
import { spreadOffsetMs } from '../../presence-service/polling/spread.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createPollStore, type PollStore } from '../../presence-service/store/poll-store.js';

// Polling schedules on an injected clock (issue 4: "a per-group cron fires the right polls, with
// an injected clock, not by waiting a minute"). Polls are fakes that record when they started and
// finish when the test says so; runs go to a real in-memory store.

const T0 = Date.parse('2026-01-01T00:00:30Z');
const MIN = 60_000;
const at = (iso: string) => Date.parse(iso);

/** A clock that moves only when told, running each timer at its own moment. */
class FakeClock implements Clock {
  private timers = new Map<number, { at: number; fn: () => void }>();
  private lastId = 0;
  constructor(private t: number) {}
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    this.lastId += 1;
    this.timers.set(this.lastId, { at: this.t + Math.max(0, ms), fn });
    return this.lastId;
  }
  clearTimeout(handle: unknown) {
    this.timers.delete(handle as number);
  }
  get pendingTimers() {
    return this.timers.size;
  }
  /** Runs every timer due up to `target` in time order, letting promises settle after each. */
  async advanceTo(target: number) {
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = Math.max(this.t, target);
    await settle();
  }
}

/** Lets every pending promise continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface PollCall {
  kind: PollKind;
  meterId: string;
  timeoutMs: number;
  startedAt: number;
  finish(result: PollResult): void;
}

const GROUPS: Record<string, string[]> = {
  'feeder-1': ['m-01', 'm-02', 'm-03', 'm-04', 'm-05'],
  'feeder-2': ['m-06', 'm-07'],
};
const ALL = Object.values(GROUPS).flat();

function schedule(
  overrides: Partial<PollScheduleConfig> & Pick<PollScheduleConfig, 'name' | 'cron'>,
): PollScheduleConfig {
  return { kind: 'status', concurrency: 64, timeoutMs: 10_000, ...overrides };
}

describe('poll scheduler', () => {
  let clock: FakeClock;
  let db: Database;
  let store: PollStore;
  let calls: PollCall[];
  let online: boolean;
  /** When set, polls finish at once with this result; when null they wait for finish(). */
  let answer: ((meterId: string) => PollResult) | null;
  let logLines: Array<{ level: number; msg: string; [key: string]: unknown }>;
  let scheduler: PollScheduler | undefined;

  const build = (schedules: PollScheduleConfig[]) => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    scheduler = createPollScheduler({
      schedules,
      clock,
      membersOf: (group) => (group === undefined ? [...ALL] : [...(GROUPS[group] ?? [])]),
      poll: (kind, meterId, timeoutMs) =>
        new Promise<PollResult>((resolve) => {
          calls.push({ kind, meterId, timeoutMs, startedAt: clock.now(), finish: resolve });
          if (answer) resolve(answer(meterId));
        }),
      store,
      isOnline: () => online,
      logger: pino({ level: 'debug' }, sink),
    });
    return scheduler;
  };

  const inFlight = () => calls.filter((c) => c.finish !== done).length;
  const done = () => {};
  /** Finishes the oldest unfinished polls. */
  const finishPolls = (count: number, result: PollResult = 'ok') => {
    for (const call of calls.filter((c) => c.finish !== done).slice(0, count)) {
      call.finish(result);
      call.finish = done;
    }
  };
  const warnings = () => logLines.filter((l) => l.level === 40).map((l) => l.msg);

  beforeEach(() => {
    clock = new FakeClock(T0);
    db = openDatabase(':memory:');
    store = createPollStore({ db });
    calls = [];
    online = true;
    answer = () => 'ok';
    logLines = [];
    scheduler = undefined;
  });

  afterEach(async () => {
    // stop() resolves once the polls in flight have ended: end the ones a test left hanging.
    const stopped = scheduler?.stop();
    finishPolls(calls.length);
    await stopped;
    db.close();
  });

  it("fires a group's schedule at each firing for that group's members only, with its kind", async () => {
    build([
      schedule({
        name: 'feeder-ping',
        cron: '*/5 * * * *',
        kind: 'ping',
        group: 'feeder-1',
        spreadS: 60,
        timeoutMs: 2_500,
      }),
      schedule({ name: 'hourly-status', cron: '0 * * * *' }),
    ]).start();

    await clock.advanceTo(at('2026-01-01T00:16:00Z'));

    // Three firings (00:05, 00:10, 00:15), each polling the five members once, within a minute.
    expect(calls).toHaveLength(15);
    expect(new Set(calls.map((c) => c.kind))).toEqual(new Set(['ping']));
    expect(new Set(calls.map((c) => c.timeoutMs))).toEqual(new Set([2_500]));
    const firings = [
      at('2026-01-01T00:05:00Z'),
      at('2026-01-01T00:10:00Z'),
      at('2026-01-01T00:15:00Z'),
    ];
    for (const firing of firings) {
      const period = calls.filter((c) => c.startedAt >= firing && c.startedAt < firing + 5 * MIN);
      expect(period.map((c) => c.meterId).sort()).toEqual(GROUPS['feeder-1']);
      for (const call of period) expect(call.startedAt - firing).toBeLessThan(60_000);
    }
    // Each meter keeps its phase: the same offset after every firing.
    for (const meterId of GROUPS['feeder-1'] ?? []) {
      const offsets = calls
        .filter((c) => c.meterId === meterId)
        .map((c, i) => c.startedAt - (firings[i] as number));
      expect(new Set(offsets).size, meterId).toBe(1);
    }
    // ...and the meters are spread, not polled at one instant.
    expect(new Set(calls.slice(0, 5).map((c) => c.startedAt)).size).toBeGreaterThan(1);

    // The hourly schedule polls every meter after 01:00, spread over 80 % of the hour (48 min).
    await clock.advanceTo(at('2026-01-01T01:48:00Z'));
    const hourly = calls.filter((c) => c.kind === 'status');
    expect(hourly.map((c) => c.meterId).sort()).toEqual([...ALL].sort());
    for (const call of hourly) {
      expect(call.startedAt).toBeGreaterThanOrEqual(at('2026-01-01T01:00:00Z'));
      expect(call.startedAt).toBeLessThan(at('2026-01-01T01:48:00Z'));
    }
    // One run per firing: 00:05 to 01:45, every 5 minutes.
    expect(store.recentRuns('feeder-ping', 100)).toHaveLength(21);
    expect(store.recentRuns('hourly-status', 100)).toHaveLength(1);
  });

  it('describes each schedule with its next firing', async () => {
    build([
      schedule({ name: 'feeder-ping', cron: '*/5 * * * *', kind: 'ping', group: 'feeder-1' }),
      schedule({ name: 'hourly-status', cron: '0 * * * *' }),
    ]);
    expect(scheduler?.describe().map((s) => s.nextRunAt)).toEqual([null, null]);
    scheduler?.start();
    expect(scheduler?.describe()).toEqual([
      {
        name: 'feeder-ping',
        kind: 'ping',
        group: 'feeder-1',
        cron: '*/5 * * * *',
        nextRunAt: '2026-01-01T00:05:00.000Z',
        running: false,
      },
      {
        name: 'hourly-status',
        kind: 'status',
        group: null,
        cron: '0 * * * *',
        nextRunAt: '2026-01-01T01:00:00.000Z',
        running: false,
      },
    ]);
    await clock.advanceTo(at('2026-01-01T00:05:00Z'));
    expect(scheduler?.describe()[0]).toMatchObject({
      nextRunAt: '2026-01-01T00:10:00.000Z',
      running: true,
    });
  });

  it('gives each meter an offset inside the window, and spreads a large fleet evenly', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `mtr-${String(i).padStart(5, '0')}`);
    const perSecond = new Array<number>(60).fill(0);
    for (const id of ids) {
      const offset = spreadOffsetMs(id, 60_000);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(60_000);
      const second = Math.floor(offset / 1000);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
    }
    // 10,000 polls over a minute: about 167 a second; no second gets twice that.
    expect(Math.max(...perSecond)).toBeLessThan(2 * (10_000 / 60));
    expect(Math.min(...perSecond)).toBeGreaterThan(0.5 * (10_000 / 60));
    expect(spreadOffsetMs('m-01', 0)).toBe(0);
  });

  it('keeps at most `concurrency` polls in flight; a meter whose moment passed waits its turn', async () => {
    answer = null;
    build([
      schedule({
        name: 'all-status',
        cron: '* * * * *',
        spreadS: 2,
        concurrency: 3,
        timeoutMs: 30_000,
      }),
    ]).start();
    await clock.advanceTo(at('2026-01-01T00:01:05Z'));
    expect(calls).toHaveLength(3);

    let maxInFlight = inFlight();
    while (calls.length < ALL.length || inFlight() > 0) {
      finishPolls(1);
      await clock.advanceTo(clock.now() + 1_000);
      maxInFlight = Math.max(maxInFlight, inFlight());
    }
    expect(maxInFlight).toBe(3);
    expect(calls.map((c) => c.meterId).sort()).toEqual([...ALL].sort());
    // The fourth meter was due within the 2 s window but started only when a slot freed.
    const fourth = calls[3] as PollCall;
    expect(fourth.startedAt).toBe(at('2026-01-01T00:01:05Z'));
    expect(fourth.startedAt - at('2026-01-01T00:01:00Z')).toBeGreaterThan(
      spreadOffsetMs(fourth.meterId, 2_000),
    );
  });

  it('skips a firing while the previous run of the schedule is still going (overrun)', async () => {
    answer = null;
    build([
      schedule({ name: 'f2-status', cron: '* * * * *', group: 'feeder-2', spreadS: 0 }),
    ]).start();
    await clock.advanceTo(at('2026-01-01T00:01:00Z'));
    expect(calls).toHaveLength(2);

    await clock.advanceTo(at('2026-01-01T00:02:30Z'));
    expect(calls).toHaveLength(2);
    expect(warnings()).toEqual(['previous run still going: this firing is skipped (overrun)']);
    expect(store.recentRuns('f2-status', 10)).toHaveLength(1);

    finishPolls(2);
    await clock.advanceTo(at('2026-01-01T00:03:00Z'));
    expect(calls).toHaveLength(4);
    expect(store.recentRuns('f2-status', 10).map((r) => r.counts)).toEqual([
      null,
      { ok: 2, changed: 0, offline: 0, timeout: 0, error: 0, skipped: 0 },
    ]);
  });

  it('counts polls as skipped while the XMPP link is down, and polls again once it is up', async () => {
    build([schedule({ name: 'all-status', cron: '* * * * *', spreadS: 30 })]).start();
    online = false;
    await clock.advanceTo(at('2026-01-01T00:01:59Z'));
    expect(calls).toHaveLength(0);
    expect(store.lastRun('all-status')).toMatchObject({
      meters: 7,
      counts: { ok: 0, changed: 0, offline: 0, timeout: 0, error: 0, skipped: 7 },
    });

    // Back up halfway through the next window: the meters due after that are polled.
    await clock.advanceTo(at('2026-01-01T00:02:15Z'));
    online = true;
    await clock.advanceTo(at('2026-01-01T00:02:59Z'));
    const late = ALL.filter((id) => spreadOffsetMs(id, 30_000) > 15_000);
    expect(late.length).toBeGreaterThan(0);
    expect(late.length).toBeLessThan(ALL.length);
    expect(calls.map((c) => c.meterId).sort()).toEqual(late.sort());
    expect(store.lastRun('all-status')?.counts).toMatchObject({
      ok: late.length,
      skipped: ALL.length - late.length,
    });
  });

  it('goes on with e-mail polls while the XMPP link is down', async () => {
    build([schedule({ name: 'f2-mail', cron: '* * * * *', kind: 'email', group: 'feeder-2' })]);
    scheduler?.start();
    online = false;
    await clock.advanceTo(at('2026-01-01T00:01:59Z'));
    expect(calls.map((c) => [c.kind, c.meterId]).sort()).toEqual([
      ['email', 'm-06'],
      ['email', 'm-07'],
    ]);
  });

  it('records each run at its start and its counts at its end', async () => {
    const results: Record<string, PollResult> = {
      'm-01': 'ok',
      'm-02': 'changed',
      'm-03': 'offline',
      'm-04': 'timeout',
      'm-05': 'error',
      'm-06': 'skipped',
      'm-07': 'changed',
    };
    answer = null;
    build([schedule({ name: 'all-status', cron: '*/10 * * * *', spreadS: 0 })]).start();
    await clock.advanceTo(at('2026-01-01T00:10:00Z'));
    expect(store.lastRun('all-status')).toEqual({
      id: 1,
      schedule: 'all-status',
      kind: 'status',
      startedAt: '2026-01-01T00:10:00.000Z',
      finishedAt: null,
      meters: 7,
      counts: null,
    });

    await clock.advanceTo(at('2026-01-01T00:10:04Z'));
    for (const call of calls) call.finish(results[call.meterId] as PollResult);
    await settle();
    expect(store.lastRun('all-status')).toMatchObject({
      finishedAt: '2026-01-01T00:10:04.000Z',
      counts: { ok: 1, changed: 2, offline: 1, timeout: 1, error: 1, skipped: 1 },
    });
    const summary = logLines.find((l) => l.msg === 'poll run finished');
    expect(summary).toMatchObject({
      schedule: 'all-status',
      meters: 7,
      durationMs: 4_000,
      counts: { ok: 1, changed: 2, offline: 1, timeout: 1, error: 1, skipped: 1 },
    });
  });

  it('runs a schedule by hand at once, and refuses an unknown or a busy one', async () => {
    answer = null;
    build([schedule({ name: 'f1-ping', cron: '0 0 * * *', kind: 'ping', group: 'feeder-1' })]);
    const run = scheduler?.runNow('f1-ping');
    await settle();
    expect(calls.map((c) => [c.kind, c.startedAt])).toEqual(
      GROUPS['feeder-1']?.map(() => ['ping', T0]),
    );
    await expect(scheduler?.runNow('f1-ping')).rejects.toMatchObject({ code: 'GP_SCHEDULE_BUSY' });
    await expect(scheduler?.runNow('nope')).rejects.toMatchObject({ code: 'GP_SCHEDULE_UNKNOWN' });
    finishPolls(5, 'changed');
    await expect(run).resolves.toMatchObject({
      runId: 1,
      schedule: 'f1-ping',
      kind: 'ping',
      meters: 5,
      counts: { changed: 5 },
    });
  });

  it('waits more than setTimeout can for a yearly schedule', async () => {
    build([schedule({ name: 'new-year', cron: '0 0 1 1 *' })]).start();
    await clock.advanceTo(at('2026-12-31T23:59:59Z'));
    expect(calls).toHaveLength(0);
    await clock.advanceTo(at('2027-01-01T01:00:00Z'));
    expect(calls).toHaveLength(ALL.length);
  });

  it('stops: no more firings or polls, the rest of a run skipped, the run recorded', async () => {
    answer = null;
    build([schedule({ name: 'all-status', cron: '* * * * *', spreadS: 50 })]).start();
    await clock.advanceTo(at('2026-01-01T00:01:25Z'));
    const started = calls.length;
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThan(ALL.length);

    const stopped = scheduler?.stop();
    expect(clock.pendingTimers).toBe(0);
    finishPolls(started);
    await stopped;
    expect(store.lastRun('all-status')?.counts).toMatchObject({
      ok: started,
      skipped: ALL.length - started,
    });
    await clock.advanceTo(at('2026-01-01T00:05:00Z'));
    expect(calls).toHaveLength(started);
    expect(scheduler?.describe()[0]?.nextRunAt).toBeNull();
  });

  it('warns at start about a spread that is not shorter than the period', () => {
    build([
      schedule({ name: 'too-wide', cron: '* * * * *', spreadS: 60 }),
      schedule({ name: 'fine', cron: '* * * * *', spreadS: 59 }),
    ]).start();
    expect(logLines.filter((l) => l.level === 40).map((l) => l.schedule)).toEqual(['too-wide']);
  });

  it('closes runs a previous process left unfinished when it starts', () => {
    store.startRun({
      schedule: 'all-status',
      kind: 'status',
      startedAt: '2025-12-31T23:00:00.000Z',
      meters: 7,
    });
    build([schedule({ name: 'all-status', cron: '* * * * *' })]).start();
    expect(store.lastRun('all-status')).toMatchObject({
      finishedAt: '2026-01-01T00:00:30.000Z',
      counts: null,
    });
  });
});

describe('cronProblem', () => {
  it('accepts 5 and 6 fields and nicknames', () => {
    expect(cronProblem('*/5 * * * *')).toBeNull();
    expect(cronProblem('*/10 * * * * *')).toBeNull();
    expect(cronProblem('@hourly')).toBeNull();
  });

  it('names what is wrong with a bad expression', () => {
    expect(cronProblem('61 * * * *')).toBe(
      'not a cron expression (5 fields, or 6 with seconds first; UTC): Invalid value for minute: 61',
    );
    expect(cronProblem('* * * * * * *')).toMatch(/^not a cron expression .*7 parts/);
    expect(cronProblem('every minute')).toMatch(/^not a cron expression/);
    expect(cronProblem('0 0 30 2 *')).toBe('this cron expression never fires');
  });
});
