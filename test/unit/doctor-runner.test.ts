import { describe, expect, it } from 'vitest';
import {
  type Check,
  type CheckName,
  type CheckOutcome,
  type DoctorContext,
  fail,
  ok,
  warn,
} from '../../meter-agent/doctor/check.js';
import { runChecks } from '../../meter-agent/doctor/runner.js';

// The doctor's runner without sockets: order, SKIP naming the failed check at the root, time
// limits, a throwing check, and secrets kept out of every line.

const context = (): DoctorContext => ({ configFile: undefined, env: {}, now: () => new Date() });

function check(
  name: CheckName,
  needs: CheckName[],
  run: Check['run'] | CheckOutcome,
  extra: Partial<Check> = {},
): Check {
  return { name, needs, run: typeof run === 'function' ? run : async () => run, ...extra };
}

describe('runChecks', () => {
  it('runs in order, reports each result as it comes, and skips what needs a failed check', async () => {
    const ran: string[] = [];
    const seen: string[] = [];
    const record = (name: CheckName, outcome: CheckOutcome) =>
      check(name, [], async () => {
        ran.push(name);
        return outcome;
      });
    const checks: Check[] = [
      record('config', ok('loaded')),
      { ...record('dns', ok('1.2.3.4')), needs: ['config'] },
      { ...record('tcp', fail('refused', 'check the port')), needs: ['dns'] },
      { ...record('tls', ok('never')), needs: ['tcp'] },
      { ...record('login', ok('never')), needs: ['tls'] },
      { ...record('meter', warn('slow', 'look at it')), needs: ['config'] },
    ];
    const results = await runChecks(checks, context(), {
      timeoutMs: 1_000,
      onResult: (r) => seen.push(r.check),
    });
    expect(ran).toEqual(['config', 'dns', 'tcp', 'meter']);
    expect(seen).toEqual(['config', 'dns', 'tcp', 'tls', 'login', 'meter']);
    expect(results).toEqual([
      { check: 'config', status: 'ok', detail: 'loaded' },
      { check: 'dns', status: 'ok', detail: '1.2.3.4' },
      { check: 'tcp', status: 'fail', detail: 'refused', hint: 'check the port' },
      // A skip names the check that failed, also two steps down the chain.
      { check: 'tls', status: 'skip', detail: 'not run: tcp failed' },
      { check: 'login', status: 'skip', detail: 'not run: tcp failed' },
      // A warning passes: what needs it would run.
      { check: 'meter', status: 'warn', detail: 'slow', hint: 'look at it' },
    ]);
  });

  it('a check that needs a warned check runs', async () => {
    const results = await runChecks(
      [check('tls', [], warn('expires soon', 'renew')), check('login', ['tls'], ok('in'))],
      context(),
      { timeoutMs: 1_000 },
    );
    expect(results.map((r) => r.status)).toEqual(['warn', 'ok']);
  });

  it('fails a check that runs out of time, aborts it, and goes on', async () => {
    let abortedAfterMs: number | undefined;
    const startedAt = Date.now();
    const hang = check(
      'tcp',
      [],
      (_ctx, { signal }) =>
        new Promise<CheckOutcome>(() => {
          signal.addEventListener('abort', () => {
            abortedAfterMs = Date.now() - startedAt;
          });
        }),
      { timeoutHint: 'check the firewall' },
    );
    const results = await runChecks([hang, check('disk', [], ok('room'))], context(), {
      timeoutMs: 100,
    });
    expect(abortedAfterMs).toBeGreaterThanOrEqual(95);
    expect(results).toEqual([
      {
        check: 'tcp',
        status: 'fail',
        detail: 'no result within 100 ms',
        hint: 'check the firewall',
      },
      { check: 'disk', status: 'ok', detail: 'room' },
    ]);
  });

  it("takes a check's own, more precise, answer when it gives one after the abort", async () => {
    const precise = check('tcp', [], (_ctx, { signal, timeoutMs }) => {
      return new Promise<CheckOutcome>((resolve) => {
        signal.addEventListener('abort', () =>
          resolve(fail(`no answer within ${timeoutMs} ms`, 'a firewall drops packets')),
        );
      });
    });
    const [result] = await runChecks([precise], context(), { timeoutMs: 50 });
    expect(result).toEqual({
      check: 'tcp',
      status: 'fail',
      detail: 'no answer within 50 ms',
      hint: 'a firewall drops packets',
    });
  });

  it('uses a check-specific time limit derived from the base', async () => {
    const limits: number[] = [];
    const measure = check('login', [], async (_ctx, { timeoutMs }) => {
      limits.push(timeoutMs);
      return ok('in');
    });
    await runChecks([{ ...measure, timeoutMs: (_ctx, base) => 2 * base }], context(), {
      timeoutMs: 300,
    });
    expect(limits).toEqual([600]);
  });

  it('turns a throwing check into a failure and runs the rest', async () => {
    const results = await runChecks(
      [
        check('clock', [], async () => {
          throw new Error('boom');
        }),
        check('disk', [], ok('room')),
      ],
      context(),
      { timeoutMs: 1_000 },
    );
    expect(results[0]).toMatchObject({ status: 'fail', detail: 'the check itself failed: boom' });
    expect(results[0]?.hint).toContain('bug');
    expect(results[1]?.status).toBe('ok');
  });

  it('never lets a secret through, in a detail or a hint', async () => {
    const leaky = check('login', [], fail('refused s3cret-pw for x', 'the password s3cret-pw'));
    const [result] = await runChecks([leaky], context(), {
      timeoutMs: 1_000,
      secrets: () => ['s3cret-pw'],
    });
    expect(result).toEqual({
      check: 'login',
      status: 'fail',
      detail: 'refused [redacted] for x',
      hint: 'the password [redacted]',
    });
  });
});
