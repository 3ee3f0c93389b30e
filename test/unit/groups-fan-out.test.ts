import { describe, expect, it } from 'vitest';
import type {
  CommandOutcome,
  CommandRunner,
} from '../../presence-service/commands/command-client.js';
import {
  describeSummary,
  fanOut,
  type MeterResult,
  summarize,
} from '../../presence-service/groups/fan-out.js';

// PROTOCOL §7: one command, many meters: a bounded fan-out, a per-meter deadline, one summary.

const ids = (n: number) =>
  Array.from({ length: n }, (_, i) => `mtr-${String(i + 1).padStart(4, '0')}`);
const result = (meterId: string, outcome: CommandOutcome): MeterResult => ({
  meterId,
  outcome,
  durationMs: 5,
});
const OK: CommandOutcome = { kind: 'ok', fields: {}, note: 'Done.' };

describe('summarize and describeSummary', () => {
  it('counts each outcome and names the meters that did not succeed, sorted', () => {
    const summary = summarize(
      [
        result('mtr-0031', { kind: 'timeout' }),
        result('mtr-0001', OK),
        result('mtr-0007', { kind: 'timeout' }),
        result('mtr-0002', { kind: 'error', condition: 'not-allowed', text: 'relay locked out' }),
        result('mtr-0003', { kind: 'offline', condition: 'service-unavailable' }),
      ],
      1234,
    );
    expect(summary).toEqual({
      total: 5,
      ok: 1,
      failed: 1,
      timedOut: 2,
      offline: 1,
      durationMs: 1234,
      failures: [
        { meterId: 'mtr-0002', kind: 'error', detail: 'not-allowed: relay locked out' },
        { meterId: 'mtr-0003', kind: 'offline', detail: 'service-unavailable' },
        { meterId: 'mtr-0007', kind: 'timeout', detail: 'no answer' },
        { meterId: 'mtr-0031', kind: 'timeout', detail: 'no answer' },
      ],
    });
    expect(describeSummary(summary)).toBe(
      '1 of 5 ok; 2 timed out: mtr-0007, mtr-0031; 1 offline: mtr-0003; ' +
        '1 failed: mtr-0002 (not-allowed) (1.2 s)',
    );
  });

  it('says only how many were ok when all were, and names at most 20 per kind', () => {
    expect(describeSummary(summarize([result('a', OK), result('b', OK)], 40))).toBe(
      '2 of 2 ok (0.0 s)',
    );
    const many = summarize(
      ids(25).map((id) => result(id, { kind: 'timeout' })),
      2000,
    );
    const line = describeSummary(many);
    expect(line).toMatch(/^0 of 25 ok; 25 timed out: mtr-0001, .*mtr-0020, … \(2\.0 s\)$/);
    expect(line).not.toContain('mtr-0021');
  });
});

describe('fanOut', () => {
  it('never has more than `concurrency` meters in flight, and asks each once', async () => {
    let inFlight = 0;
    let peak = 0;
    const asked: string[] = [];
    const run: CommandRunner = async (meterId) => {
      asked.push(meterId);
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
      return OK;
    };
    const seen: string[] = [];
    const { summary } = await fanOut({
      members: ids(50),
      node: 'urn:gridpresence:cmd:read',
      form: {},
      run,
      concurrency: 7,
      timeoutMs: 1000,
      onResult: (r) => seen.push(r.meterId),
    });
    expect(peak).toBe(7);
    expect(asked.sort()).toEqual(ids(50));
    expect(seen.sort()).toEqual(ids(50));
    expect(summary).toMatchObject({ total: 50, ok: 50, failures: [] });
  });

  it('passes node, form and timeout to the runner', async () => {
    const calls: unknown[] = [];
    await fanOut({
      members: ['m-1'],
      node: 'urn:gridpresence:cmd:relay',
      form: { action: ['open'], confirm: ['true'] },
      run: async (...args) => {
        calls.push(args);
        return OK;
      },
      concurrency: 4,
      timeoutMs: 321,
    });
    expect(calls).toEqual([
      ['m-1', 'urn:gridpresence:cmd:relay', { action: ['open'], confirm: ['true'] }, 321],
    ]);
  });

  it('classifies a meter that never answers as timed out, even if the runner hangs', async () => {
    const run: CommandRunner = (meterId) =>
      meterId === 'silent' ? new Promise(() => {}) : Promise.resolve(OK);
    const started = Date.now();
    const { summary } = await fanOut({
      members: ['a', 'silent', 'b'],
      node: 'n',
      form: {},
      run,
      concurrency: 2,
      timeoutMs: 50,
    });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(summary).toMatchObject({
      total: 3,
      ok: 2,
      timedOut: 1,
      failures: [{ meterId: 'silent', kind: 'timeout' }],
    });
  });

  it('counts a runner that throws as a failure of that meter only', async () => {
    const { summary } = await fanOut({
      members: ['a', 'b'],
      node: 'n',
      form: {},
      run: async (meterId) => {
        if (meterId === 'b') throw new Error('socket closed');
        return OK;
      },
      concurrency: 2,
      timeoutMs: 100,
    });
    expect(summary).toMatchObject({
      ok: 1,
      failed: 1,
      failures: [{ meterId: 'b', kind: 'error', detail: 'internal: socket closed' }],
    });
  });

  it('stops asking once cancelled', async () => {
    let cancelled = false;
    const asked: string[] = [];
    const { summary } = await fanOut({
      members: ids(10),
      node: 'n',
      form: {},
      run: async (meterId) => {
        asked.push(meterId);
        if (asked.length === 3) cancelled = true;
        return OK;
      },
      concurrency: 1,
      timeoutMs: 100,
      cancelled: () => cancelled,
    });
    expect(asked).toHaveLength(3);
    expect(summary.total).toBe(3);
  });
});
