import { afterEach, describe, expect, it } from 'vitest';
import { type CommandDefinition, CommandError } from '../../meter-agent/commands/command.js';
import type { CommandRequest } from '../../meter-agent/commands/dispatcher.js';
import { type CommandFixture, commandFixture, JIDS } from './helpers/command-fixture.js';

// PROTOCOL §2 and §4 through the one dispatcher: roles, rate limit, parse, run, the active mark,
// driver errors, and an audit entry for every outcome.

let f: CommandFixture;
afterEach(() => f?.cleanup());

const run = (
  from: string,
  name: string,
  raw: CommandRequest['raw'] = {},
  extra: Partial<CommandRequest> = {},
) => f.dispatcher.dispatch({ from, via: 'adhoc', name, raw, stage: 'run', ...extra });

async function refusedWith(promise: ReturnType<typeof run>): Promise<CommandError> {
  const outcome = await promise;
  if (outcome.ok) throw new Error('expected a refusal');
  return outcome.error;
}

const RELAY_OPEN = { action: ['open'], confirm: ['true'] };

describe('roles (PROTOCOL §2)', () => {
  it('lets a viewer read and refuses it the operator commands, auditing both', async () => {
    f = commandFixture();
    expect((await run(JIDS.viewer, 'read')).ok).toBe(true);
    expect((await run(JIDS.viewer, 'pq')).ok).toBe(true);
    const error = await refusedWith(run(JIDS.viewer, 'relay', RELAY_OPEN));
    expect(error.condition).toBe('forbidden');
    expect(error.message).toBe('relay needs the operator role');
    expect(f.meter.condition().relay).toBe('closed');
    expect(f.audit.map((a) => [a.command, a.outcome, a.condition])).toEqual([
      ['read', 'ok', undefined],
      ['pq', 'ok', undefined],
      ['relay', 'refused', 'forbidden'],
    ]);
    expect(f.audit[2]).toMatchObject({
      from: JIDS.viewer,
      via: 'adhoc',
      args: RELAY_OPEN,
      ts: '2026-11-27T14:00:00.000Z',
    });
  });

  it('refuses a stranger everything, before looking at the command', async () => {
    f = commandFixture();
    for (const name of ['read', 'relay', 'no-such-command']) {
      expect((await refusedWith(run(JIDS.stranger, name))).condition).toBe('forbidden');
    }
    expect(f.audit.map((a) => [a.from, a.command, a.outcome, a.condition])).toEqual([
      [JIDS.stranger, 'read', 'refused', 'forbidden'],
      [JIDS.stranger, 'relay', 'refused', 'forbidden'],
      [JIDS.stranger, 'no-such-command', 'refused', 'forbidden'],
    ]);
  });

  it('lets operators, admins and the presence service operate', async () => {
    f = commandFixture();
    expect((await run(JIDS.operator, 'relay', RELAY_OPEN)).ok).toBe(true);
    expect((await run(JIDS.admin, 'relay', { action: ['close'], confirm: ['true'] })).ok).toBe(
      true,
    );
    expect((await run(JIDS.service, 'reporting', { 'interval-s': ['30'] })).ok).toBe(true);
    expect(f.reporting.intervalS).toBe(30);
  });

  it('lists per role and door what a sender may run', () => {
    f = commandFixture();
    const names = (jid: string, via: 'adhoc' | 'chat') =>
      f.dispatcher.availableTo(jid, via).map((c) => c.name);
    expect(names(JIDS.viewer, 'adhoc')).toEqual(['read', 'pq']);
    expect(names(JIDS.viewer, 'chat')).toEqual(['help', 'status', 'read', 'pq']);
    expect(names(JIDS.operator, 'adhoc')).toEqual([
      'read',
      'pq',
      'relay',
      'load-limit',
      'maintenance',
      'reporting',
    ]);
    // docs/protocol.md extension: only an admin gets `log-level`.
    expect(names(JIDS.admin, 'adhoc').at(-1)).toBe('log-level');
    expect(names(JIDS.admin, 'chat')).toContain('log-level');
    expect(names(JIDS.stranger, 'chat')).toEqual([]);
  });
});

describe('lookup, capability and parsing', () => {
  it('audits an unknown command and a chat-only command asked through ad-hoc as item-not-found', async () => {
    f = commandFixture();
    expect((await refusedWith(run(JIDS.operator, 'self-destruct'))).condition).toBe(
      'item-not-found',
    );
    expect((await refusedWith(run(JIDS.operator, 'help'))).condition).toBe('item-not-found');
    expect((await run(JIDS.operator, 'help', {}, { via: 'chat' })).ok).toBe(true);
    expect(f.audit.map((a) => [a.command, a.outcome, a.condition])).toEqual([
      ['self-destruct', 'refused', 'item-not-found'],
      ['help', 'refused', 'item-not-found'],
      ['help', 'ok', undefined],
    ]);
  });

  it('refuses a meter without a relay with feature-not-implemented', async () => {
    f = commandFixture({ supportsRelay: false });
    const error = await refusedWith(run(JIDS.operator, 'relay', RELAY_OPEN));
    expect(error.condition).toBe('feature-not-implemented');
    expect(f.audit[0]).toMatchObject({ outcome: 'refused', condition: 'feature-not-implemented' });
  });

  it('refuses a bad value with bad-request naming the field', async () => {
    f = commandFixture();
    const error = await refusedWith(run(JIDS.operator, 'relay', { action: ['open'] }));
    expect(error).toMatchObject({ condition: 'bad-request', field: 'confirm' });
    expect(f.audit[0]).toMatchObject({
      outcome: 'refused',
      condition: 'bad-request',
      detail: 'confirm: must be true to open the relay',
    });
  });

  it('refuses closing the relay during a lockout with not-allowed (driver error mapped)', async () => {
    f = commandFixture();
    f.meter.inject('relay-lockout');
    const error = await refusedWith(
      run(JIDS.operator, 'relay', { action: ['close'], confirm: ['true'] }),
    );
    expect(error.condition).toBe('not-allowed');
    expect(error.message).toMatch(/locked out/);
    expect(f.meter.condition().relay).toBe('lockout');
    expect(f.audit[0]).toMatchObject({
      command: 'relay',
      outcome: 'refused',
      condition: 'not-allowed',
    });
  });

  it('audits a command that throws as failed/internal-server-error', async () => {
    f = commandFixture({
      commands: (all) =>
        all.map(
          (c): CommandDefinition =>
            c.name === 'reporting'
              ? {
                  ...c,
                  run: () => {
                    throw new Error('disk full');
                  },
                }
              : c,
        ),
    });
    const error = await refusedWith(run(JIDS.operator, 'reporting', { 'interval-s': ['30'] }));
    expect(error).toMatchObject({
      condition: 'internal-server-error',
      message: 'the command failed: disk full',
    });
    expect(f.audit[0]).toMatchObject({ outcome: 'failed', condition: 'internal-server-error' });
  });

  it('audits a refusal decided by a front door, after the sender checks', async () => {
    f = commandFixture();
    const refusal = new CommandError('not-acceptable', 'request larger than 4096 bytes');
    expect(await refusedWith(run(JIDS.operator, 'read', {}, { refusal }))).toBe(refusal);
    expect((await refusedWith(run(JIDS.stranger, 'read', {}, { refusal }))).condition).toBe(
      'forbidden',
    );
    expect(f.audit.map((a) => a.condition)).toEqual(['not-acceptable', 'forbidden']);
  });

  it('checks the form stage without running or auditing it, but audits its refusal', async () => {
    f = commandFixture();
    const granted = await run(JIDS.operator, 'relay', {}, { stage: 'form' });
    expect(granted).toMatchObject({ ok: true, result: undefined });
    expect(f.meter.condition().relay).toBe('closed');
    expect(f.audit).toEqual([]);
    await run(JIDS.viewer, 'relay', {}, { stage: 'form' });
    expect(f.audit).toMatchObject([
      { command: 'relay', outcome: 'refused', condition: 'forbidden' },
    ]);
  });

  it('bounds the arguments it audits', async () => {
    f = commandFixture();
    await run(JIDS.operator, 'maintenance', { enable: ['true'], note: ['x'.repeat(1000)] });
    expect(f.audit[0]?.args.note?.[0]?.length).toBeLessThanOrEqual(257);
  });
});

describe('the active mark (PROTOCOL §1 active/command)', () => {
  it('shows active/command while relay and load-limit run, not for reads or modes', async () => {
    f = commandFixture();
    const seen: Array<string | null> = [];
    f.meter.onCondition(() => seen.push(f.modes.modes.activity?.code ?? null));
    await run(JIDS.operator, 'relay', RELAY_OPEN);
    expect(seen).toEqual(['command']); // the relay moved while the meter was active
    expect(f.modes.modes.activity).toBeNull();
    expect(f.activities).toEqual(['command', null]);
    await run(JIDS.operator, 'load-limit', { 'limit-kw': ['5'], 'duration-min': ['30'] });
    // mark, the limit set (still marked), unmark
    expect(f.activities).toEqual(['command', null, 'command', 'command', null]);
    f.activities.length = 0;
    await run(JIDS.operator, 'read');
    await run(JIDS.operator, 'maintenance', { enable: ['false'] });
    await run(JIDS.operator, 'reporting', { 'interval-s': ['60'] });
    expect(f.activities).toEqual([null]); // only the maintenance mode itself changed
  });

  it('shows nothing for a call that changes nothing (close a closed relay, clear no limit)', async () => {
    f = commandFixture();
    await run(JIDS.operator, 'relay', { action: ['close'], confirm: ['true'] });
    await run(JIDS.operator, 'load-limit', { clear: ['true'] });
    expect(f.activities).toEqual([null]); // only the (absent) limit was set to none again
    expect(f.audit.map((a) => a.outcome)).toEqual(['ok', 'ok']);
  });

  it('holds the mark while any of several commands runs, and never clears another activity', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    f = commandFixture({
      commands: (all) =>
        all.map(
          (c): CommandDefinition =>
            c.name === 'relay'
              ? {
                  ...c,
                  run: async (a, x) => {
                    await gate;
                    return c.run(a, x);
                  },
                }
              : c,
        ),
    });
    const first = run(JIDS.operator, 'relay', RELAY_OPEN);
    const second = run(JIDS.admin, 'relay', RELAY_OPEN);
    await Promise.resolve();
    expect(f.modes.modes.activity?.code).toBe('command');
    release();
    await Promise.all([first, second]);
    expect(f.modes.modes.activity).toBeNull();

    f.modes.setActivity({ code: 'dr-event', text: 'DR event 42' });
    await run(JIDS.operator, 'relay', { action: ['close'], confirm: ['true'] });
    expect(f.modes.modes.activity).toEqual({ code: 'dr-event', text: 'DR event 42' });
  });
});

describe('rate limit (per bare JID)', () => {
  it('refuses with resource-constraint past the burst, audits a run of refusals once, and refills', async () => {
    f = commandFixture({ rateLimit: { burst: 3, refillPerS: 1, maxSenders: 16 } });
    for (let i = 0; i < 3; i += 1) expect((await run(JIDS.viewer, 'read')).ok).toBe(true);
    const first = await run('viewer@grid.example/other-resource', 'read');
    expect(first).toMatchObject({
      ok: false,
      repeated: false,
      error: { condition: 'resource-constraint' },
    });
    expect(await run(JIDS.viewer, 'read')).toMatchObject({ ok: false, repeated: true });
    expect(await run(JIDS.viewer, 'read')).toMatchObject({ ok: false, repeated: true });
    // another sender is not affected
    expect((await run(JIDS.operator, 'read')).ok).toBe(true);
    f.clock.ms += 1000;
    expect((await run(JIDS.viewer, 'read')).ok).toBe(true);
    expect(f.audit.map((a) => [a.from, a.command, a.outcome, a.condition ?? null])).toEqual([
      [JIDS.viewer, 'read', 'ok', null],
      [JIDS.viewer, 'read', 'ok', null],
      [JIDS.viewer, 'read', 'ok', null],
      ['viewer@grid.example/other-resource', 'read', 'refused', 'resource-constraint'],
      [JIDS.operator, 'read', 'ok', null],
      [JIDS.viewer, 'rate-limited', 'refused', 'resource-constraint'],
      [JIDS.viewer, 'read', 'ok', null],
    ]);
    expect(f.audit[5]?.detail).toBe(
      '2 further request(s) refused by the rate limit before this one',
    );
    expect(f.audit[3]?.detail).toBe('too many commands; try again in 1 s');
  });

  it('does not limit the presence service, which bounds its own fan-out', async () => {
    f = commandFixture({ rateLimit: { burst: 2, refillPerS: 1, maxSenders: 16 } });
    for (let i = 0; i < 10; i += 1) expect((await run(JIDS.service, 'read')).ok).toBe(true);
    expect((await run(JIDS.viewer, 'read')).ok).toBe(true);
  });

  it('lets a granted form stage cost nothing, and a refused one its token', async () => {
    f = commandFixture({ rateLimit: { burst: 2, refillPerS: 1, maxSenders: 16 } });
    for (let i = 0; i < 5; i += 1)
      expect((await run(JIDS.viewer, 'read', {}, { stage: 'form' })).ok).toBe(true);
    expect((await refusedWith(run(JIDS.viewer, 'relay', {}, { stage: 'form' }))).condition).toBe(
      'forbidden',
    );
    expect((await run(JIDS.viewer, 'read')).ok).toBe(true);
    expect((await refusedWith(run(JIDS.viewer, 'read', {}, { stage: 'form' }))).condition).toBe(
      'resource-constraint',
    );
  });

  it('limits strangers too, so a flood makes one audit entry', async () => {
    f = commandFixture({ rateLimit: { burst: 2, refillPerS: 1, maxSenders: 16 } });
    for (let i = 0; i < 50; i += 1) await run(JIDS.stranger, 'relay', RELAY_OPEN);
    expect(f.audit.map((a) => a.condition)).toEqual([
      'forbidden',
      'forbidden',
      'resource-constraint',
    ]);
  });
});
