import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { summarize } from '../../presence-service/groups/fan-out.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import {
  createJobStore,
  type JobStore,
  type NewJob,
} from '../../presence-service/store/job-store.js';

// PROTOCOL §7: the full per-meter results stay queryable; a job's members are pending until
// their meter answers, and a job a crash left behind is recorded as interrupted.

const AT = '2026-11-27T14:00:00.000Z';
const job = (overrides: Partial<NewJob> = {}): NewJob => ({
  group: 'feeder-1',
  command: 'relay',
  args: { action: ['open'], confirm: ['true'] },
  requestedBy: 'op@grid.example',
  via: 'chat',
  members: ['m-2', 'm-1', 'm-3'],
  createdAt: AT,
  ...overrides,
});

describe('job store', () => {
  let db: Database;
  let jobs: JobStore;

  beforeEach(() => {
    db = openDatabase(':memory:');
    jobs = createJobStore({ db, retainJobs: 3 });
  });
  afterEach(() => db.close());

  it('records a running job with every member pending', () => {
    const id = jobs.create(job());
    expect(jobs.get(id)).toEqual({
      id,
      group: 'feeder-1',
      command: 'relay',
      args: { action: ['open'], confirm: ['true'] },
      requestedBy: 'op@grid.example',
      via: 'chat',
      members: 3,
      status: 'running',
      createdAt: AT,
      finishedAt: null,
      summary: null,
    });
    const { total, results } = jobs.results(id, { limit: 10, offset: 0 });
    expect(total).toBe(3);
    expect(results.map((r) => [r.meterId, r.outcome])).toEqual([
      ['m-1', 'pending'],
      ['m-2', 'pending'],
      ['m-3', 'pending'],
    ]);
  });

  it('stores each outcome as it arrives, then the summary', () => {
    const id = jobs.create(job());
    const ok = {
      meterId: 'm-1',
      outcome: { kind: 'ok' as const, fields: { relay: ['open'] }, note: 'Relay open.' },
      durationMs: 12,
    };
    jobs.recordResult(id, ok, '2026-11-27T14:00:01.000Z');
    expect(jobs.results(id, { outcome: 'ok', limit: 10, offset: 0 }).results).toEqual([
      {
        meterId: 'm-1',
        outcome: 'ok',
        condition: null,
        detail: 'Relay open.',
        fields: { relay: ['open'] },
        durationMs: 12,
        finishedAt: '2026-11-27T14:00:01.000Z',
      },
    ]);
    const refused = {
      meterId: 'm-2',
      outcome: { kind: 'error' as const, condition: 'not-allowed', text: 'relay locked out' },
      durationMs: 8,
    };
    const silent = { meterId: 'm-3', outcome: { kind: 'timeout' as const }, durationMs: 2000 };
    jobs.recordResult(id, refused, AT);
    jobs.recordResult(id, silent, AT);
    const summary = summarize([ok, refused, silent], 2010);
    jobs.finish(id, summary, '2026-11-27T14:00:02.000Z');

    expect(jobs.get(id)).toMatchObject({
      status: 'done',
      finishedAt: '2026-11-27T14:00:02.000Z',
      summary,
    });
    const all = jobs.results(id, { limit: 10, offset: 0 }).results;
    expect(all.map((r) => [r.meterId, r.outcome, r.condition, r.detail])).toEqual([
      ['m-1', 'ok', null, 'Relay open.'],
      ['m-2', 'error', 'not-allowed', 'relay locked out'],
      ['m-3', 'timeout', null, 'no answer in time'],
    ]);
    expect(jobs.results(id, { outcome: 'timeout', limit: 10, offset: 0 })).toMatchObject({
      total: 1,
      results: [{ meterId: 'm-3', durationMs: 2000 }],
    });
    expect(jobs.results(id, { limit: 1, offset: 1 })).toMatchObject({
      total: 3,
      results: [{ meterId: 'm-2' }],
    });
  });

  it('marks running jobs and their pending members interrupted, and leaves finished ones', () => {
    const done = jobs.create(job());
    jobs.finish(done, summarize([], 1), AT);
    const running = jobs.create(job());
    jobs.recordResult(running, { meterId: 'm-1', outcome: { kind: 'timeout' }, durationMs: 1 }, AT);
    expect(jobs.interruptRunning('2026-11-27T15:00:00.000Z')).toBe(1);
    expect(jobs.get(running)).toMatchObject({
      status: 'interrupted',
      finishedAt: '2026-11-27T15:00:00.000Z',
      summary: null,
    });
    expect(jobs.results(running, { limit: 10, offset: 0 }).results.map((r) => r.outcome)).toEqual([
      'timeout',
      'interrupted',
      'interrupted',
    ]);
    expect(jobs.get(done)?.status).toBe('done');
    // a late summary does not revive an interrupted job
    jobs.finish(running, summarize([], 1), AT);
    expect(jobs.get(running)?.status).toBe('interrupted');
  });

  it('keeps the newest `retainJobs` jobs, deleting older finished ones with their results', () => {
    const ids = [1, 2, 3, 4, 5].map(() => {
      const id = jobs.create(job());
      jobs.finish(id, summarize([], 1), AT);
      return id;
    });
    expect(ids.map((id) => jobs.get(id) !== undefined)).toEqual([false, false, true, true, true]);
    expect(jobs.results(ids[0] as number, { limit: 10, offset: 0 }).total).toBe(0);
    const orphans = db.prepare('SELECT count(*) FROM group_job_results').pluck().get();
    expect(orphans).toBe(9);
  });

  it('answers undefined for a job it does not have', () => {
    expect(jobs.get(42)).toBeUndefined();
  });
});
