import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  CommandOutcome,
  CommandRunner,
} from '../../presence-service/commands/command-client.js';
import {
  createGroupCommands,
  type GroupCommands,
  mayRun,
} from '../../presence-service/groups/group-commands.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createGroupDirectory } from '../../presence-service/store/group-directory.js';
import { createJobStore, type JobStore } from '../../presence-service/store/job-store.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { ERROR_CODES } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { COMMAND_ROLES } from '../../src/protocol/commands.js';
import { commandFixture } from './helpers/command-fixture.js';

// PROTOCOL §7 with a fake runner (STYLE §7): the concurrency bound, the per-meter deadline,
// results stored as they arrive, the summary at the end, unknown groups and the roles.

const OK: CommandOutcome = { kind: 'ok', fields: { relay: ['open'] }, note: 'Relay open.' };
const ids = (n: number) =>
  Array.from({ length: n }, (_, i) => `mtr-${String(i + 1).padStart(4, '0')}`);

/** A runner whose answers the test releases by hand; `pending` counts calls not answered. */
function manualRunner() {
  const waiting = new Map<string, Array<(outcome: CommandOutcome) => void>>();
  const calls: Array<{ meterId: string; node: string; timeoutMs: number }> = [];
  const run: CommandRunner = (meterId, node, _form, timeoutMs) => {
    calls.push({ meterId, node, timeoutMs });
    return new Promise((resolve) =>
      waiting.set(meterId, [...(waiting.get(meterId) ?? []), resolve]),
    );
  };
  /** Answers every call waiting for this meter. */
  const answer = (meterId: string, outcome: CommandOutcome = OK) => {
    for (const resolve of waiting.get(meterId) ?? []) resolve(outcome);
    waiting.delete(meterId);
  };
  const pending = () => [...waiting.values()].reduce((n, list) => n + list.length, 0);
  return { run, calls, waiting, answer, pending };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('group commands', () => {
  let db: Database;
  let jobs: JobStore;
  let groups: GroupCommands | undefined;

  beforeEach(() => {
    db = openDatabase(':memory:');
    jobs = createJobStore({ db });
    createMeterRegistry({ db }).addMany([
      ...ids(20).map((id) => ({ id, domain: 'grid.example', groups: ['feeder-1'] })),
      { id: 'lonely', domain: 'grid.example' },
    ]);
  });
  afterEach(() => {
    groups?.stop();
    db.close();
  });

  const make = (run: CommandRunner, options: { concurrency?: number; timeoutMs?: number } = {}) => {
    groups = createGroupCommands({
      groups: createGroupDirectory({ db }),
      jobs,
      run,
      maxRunningJobs: 2,
      logger: silentLogger(),
      ...options,
    });
    return groups;
  };

  it('runs the command node on every member, storing each result as it arrives', async () => {
    const runner = manualRunner();
    const job = make(runner.run, { concurrency: 64 }).start(
      'feeder-1',
      'relay',
      { action: ['open'], confirm: ['true'] },
      'op@grid.example',
      'chat',
    );
    expect(job.members).toEqual(ids(20));
    await tick();
    expect(runner.calls.map((c) => c.node)).toEqual(Array(20).fill('urn:gridpresence:cmd:relay'));
    expect(runner.calls[0]?.timeoutMs).toBe(10_000); // the default

    runner.answer('mtr-0003');
    await tick();
    const partial = jobs.results(job.jobId, { limit: 100, offset: 0 }).results;
    expect(partial.find((r) => r.meterId === 'mtr-0003')).toMatchObject({
      outcome: 'ok',
      fields: { relay: ['open'] },
    });
    expect(partial.filter((r) => r.outcome === 'pending')).toHaveLength(19);
    expect(jobs.get(job.jobId)).toMatchObject({ status: 'running', summary: null });

    for (const id of ids(20)) runner.answer(id);
    const summary = await job.done;
    expect(summary).toMatchObject({ total: 20, ok: 20 });
    expect(jobs.get(job.jobId)).toMatchObject({
      status: 'done',
      group: 'feeder-1',
      command: 'relay',
      args: { action: ['open'], confirm: ['true'] },
      requestedBy: 'op@grid.example',
      via: 'chat',
      members: 20,
      summary,
    });
  });

  it('respects the concurrency bound', async () => {
    const runner = manualRunner();
    const job = make(runner.run, { concurrency: 4 }).start('feeder-1', 'read', {}, 'x', 'http');
    await tick();
    expect(runner.pending()).toBe(4);
    let peak = 0;
    while (runner.pending() > 0) {
      peak = Math.max(peak, runner.pending());
      for (const id of [...runner.waiting.keys()]) runner.answer(id);
      await tick();
    }
    expect(peak).toBe(4);
    expect(runner.calls).toHaveLength(20);
    expect((await job.done).ok).toBe(20);
  });

  it('classifies a meter that does not answer within timeoutMs as timed out', async () => {
    const silent = new Set(['mtr-0007', 'mtr-0011']);
    const run: CommandRunner = (meterId) =>
      silent.has(meterId) ? new Promise(() => {}) : Promise.resolve(OK);
    const job = make(run, { timeoutMs: 60 }).start('feeder-1', 'read', {}, 'x', 'http');
    const summary = await job.done;
    expect(summary).toMatchObject({ total: 20, ok: 18, timedOut: 2 });
    expect(summary.failures.map((f) => [f.meterId, f.kind])).toEqual([
      ['mtr-0007', 'timeout'],
      ['mtr-0011', 'timeout'],
    ]);
    const stored = jobs.results(job.jobId, { outcome: 'timeout', limit: 10, offset: 0 });
    expect(stored.results.map((r) => r.meterId)).toEqual(['mtr-0007', 'mtr-0011']);
    expect(stored.results[0]?.durationMs).toBeGreaterThanOrEqual(55);
  });

  it('refuses an unknown or empty group with GP_GROUP_UNKNOWN and stores nothing', () => {
    const commands = make(manualRunner().run);
    expect(() => commands.start('feeder-9', 'read', {}, 'x', 'chat')).toThrow(
      expect.objectContaining({
        code: ERROR_CODES.GROUP_UNKNOWN,
        message: "no group 'feeder-9': no meter is in it",
      }),
    );
    expect(jobs.get(1)).toBeUndefined();
  });

  it('bounds the jobs running at once (GP_GROUP_BUSY), and frees the slot when one ends', async () => {
    const runner = manualRunner();
    // a short deadline: the last job started below is left to time out
    const commands = make(runner.run, { concurrency: 64, timeoutMs: 300 });
    const first = commands.start('feeder-1', 'read', {}, 'a@grid.example/one', 'chat');
    // one job at a time per requester, whatever its resource
    expect(() => commands.start('feeder-1', 'pq', {}, 'a@grid.example/two', 'chat')).toThrow(
      expect.objectContaining({ code: ERROR_CODES.GROUP_BUSY }),
    );
    commands.start('feeder-1', 'pq', {}, 'b@grid.example/one', 'chat');
    expect(commands.running()).toBe(2);
    expect(() => commands.start('feeder-1', 'read', {}, 'c@grid.example', 'chat')).toThrow(
      expect.objectContaining({ code: ERROR_CODES.GROUP_BUSY }),
    );
    await tick();
    // both jobs ask the same meters
    while (runner.pending() > 0) {
      for (const id of [...runner.waiting.keys()]) runner.answer(id);
      await tick();
    }
    await first.done;
    await tick();
    expect(commands.running()).toBe(0);
    commands.start('feeder-1', 'read', {}, 'a@grid.example/one', 'chat');
    expect(commands.running()).toBe(1);
  });

  it('on stop, records running jobs as interrupted and starts no more', async () => {
    const runner = manualRunner();
    const commands = make(runner.run, { concurrency: 2 });
    const job = commands.start('feeder-1', 'read', {}, 'x', 'chat');
    await tick();
    commands.stop();
    expect(jobs.get(job.jobId)?.status).toBe('interrupted');
    runner.answer('mtr-0001');
    runner.answer('mtr-0002');
    const summary = await job.done;
    expect(summary.total).toBe(2); // nobody else was asked
    expect(jobs.get(job.jobId)?.status).toBe('interrupted');
    expect(() => commands.start('feeder-1', 'read', {}, 'x', 'chat')).toThrow(
      expect.objectContaining({ code: ERROR_CODES.GROUP_BUSY }),
    );
  });
});

describe('mayRun (PROTOCOL §2 on a group)', () => {
  it('lets a viewer read, pq, status and help, and keeps the rest for operators', () => {
    for (const command of ['read', 'pq', 'status', 'help'] as const) {
      expect(mayRun('viewer', command)).toBeNull();
    }
    for (const command of ['relay', 'load-limit', 'maintenance', 'reporting'] as const) {
      expect(mayRun('viewer', command)).toEqual({
        condition: 'forbidden',
        message: `${command} needs the operator role`,
      });
      expect(mayRun('operator', command)).toBeNull();
      expect(mayRun('admin', command)).toBeNull();
    }
    expect(mayRun(null, 'read')).toEqual({
      condition: 'forbidden',
      message: 'not authorised to command groups here',
    });
  });

  it('uses the roles the meter agent enforces for each command', () => {
    const fixture = commandFixture();
    try {
      for (const command of fixture.commands) {
        expect([command.name, COMMAND_ROLES[command.name]]).toEqual([command.name, command.role]);
      }
    } finally {
      fixture.cleanup();
    }
  });
});
