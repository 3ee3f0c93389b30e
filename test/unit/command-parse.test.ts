import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CommandDefinition,
  CommandError,
  type RawArgs,
} from '../../meter-agent/commands/command.js';
import { describeEvent } from '../../meter-agent/commands/pq-command.js';
import { MINIMUM_REGISTER_IDS } from '../../meter-agent/meter/obis.js';
import { parseChatLine } from '../../src/protocol/chat-commands.js';
import { type CommandFixture, commandFixture } from './helpers/command-fixture.js';

// PROTOCOL §4: each command parses its form values itself; a bad value is bad-request with a
// text that starts with the field's name, and the error carries the field.

let f: CommandFixture;
beforeEach(() => {
  f = commandFixture();
});
afterEach(() => f.cleanup());

const command = (name: string): CommandDefinition => {
  const found = f.commands.find((c) => c.name === name);
  if (!found) throw new Error(`no command ${name}`);
  return found;
};

function refusal(name: string, raw: RawArgs): CommandError {
  try {
    command(name).parse(raw);
  } catch (error) {
    if (error instanceof CommandError) return error;
    throw error;
  }
  throw new Error(`${name} accepted ${JSON.stringify(raw)}`);
}

function expectBadField(name: string, raw: RawArgs, field: string) {
  const error = refusal(name, raw);
  expect(error.condition).toBe('bad-request');
  expect(error.field).toBe(field);
  expect(error.message.startsWith(`${field}:`)).toBe(true);
}

const ctx = (role: 'viewer' | 'operator' | 'admin' = 'admin') => ({
  from: 'op@grid.example/x',
  role,
  via: 'adhoc' as const,
  now: new Date(f.clock.ms),
});

describe('every form', () => {
  it('has nodes under urn:gridpresence:cmd: and fields with a type and a label', () => {
    for (const c of f.commands) {
      expect(c.node).toBe(`urn:gridpresence:cmd:${c.name}`);
      for (const field of c.form().fields) {
        expect(field.type).toBeTruthy();
        expect(field.label).toBeTruthy();
      }
    }
    expect(f.commands.map((c) => [c.name, c.role])).toEqual([
      ['help', 'viewer'],
      ['status', 'viewer'],
      ['read', 'viewer'],
      ['pq', 'viewer'],
      ['relay', 'operator'],
      ['load-limit', 'operator'],
      ['maintenance', 'operator'],
      ['reporting', 'operator'],
      ['log-level', 'admin'],
    ]);
  });
});

describe('read', () => {
  it('reads all registers when none is chosen, each labelled with its unit', async () => {
    const result = await command('read').run(command('read').parse({}), ctx());
    expect(result.fields.map((r) => r.var)).toEqual([...MINIMUM_REGISTER_IDS]);
    expect(result.fields[0]).toMatchObject({
      var: '1-0:1.8.0',
      type: 'text-single',
      label: 'Active energy import (kWh)',
    });
    expect(result.fields.find((r) => r.var === '1-0:13.7.0')?.label).toBe('Power factor');
    expect(result.text.split('\n')[0]).toMatch(/^Active energy import: \d+\.\d{3} kWh$/);
  });

  it('reads the chosen registers and names an unknown one', async () => {
    const args = command('read').parse({ registers: ['1-0:32.7.0', ' 1-0:14.7.0 ', '1-0:32.7.0'] });
    const result = await command('read').run(args, ctx());
    expect(result.fields.map((r) => r.label)).toEqual(['Voltage L1 (V)', 'Frequency (Hz)']);
    expectBadField('read', { registers: ['1-0:99.9.9'] }, 'registers');
  });
});

describe('pq', () => {
  it('defaults to 15 minutes and bounds the window', () => {
    expect(command('pq').parse({})).toEqual({ windowMin: 15 });
    expect(command('pq').parse({ 'window-min': ['60'] })).toEqual({ windowMin: 60 });
    expectBadField('pq', { 'window-min': ['0'] }, 'window-min');
    expectBadField('pq', { 'window-min': ['1441'] }, 'window-min');
    expectBadField('pq', { 'window-min': ['ten'] }, 'window-min');
  });

  it('reports voltages, currents, THD, counts and the events inside the window only', async () => {
    f.meter.inject('sag', { phase: 'L2', magnitude: 0.8, durationMs: 120 });
    f.clock.ms += 20 * 60_000;
    f.meter.inject('swell');
    const result = await command('pq').run({ windowMin: 15 }, ctx('viewer'));
    const byVar = Object.fromEntries(result.fields.map((r) => [r.var, r]));
    expect(byVar['1-0:32.7.0']?.label).toBe('Voltage L1 (V)');
    expect(byVar['1-0:31.7.0']?.label).toBe('Current L1 (A)');
    expect(byVar['1-0:32.7.124']?.label).toBe('Voltage THD L1 (%)');
    expect(byVar['1-0:32.32.0']?.value).toBe('1');
    expect(byVar['1-0:32.36.0']?.value).toBe('1');
    expect(byVar['event-count']?.value).toBe('1');
    expect(byVar.events).toMatchObject({
      type: 'text-multi',
      value: [expect.stringMatching(/ swell L1 1\.15 pu 100 ms$/)],
    });
    const wide = await command('pq').run({ windowMin: 60 }, ctx('viewer'));
    expect(wide.fields.find((r) => r.var === 'event-count')?.value).toBe('2');
  });

  it('describes an event on one line', () => {
    expect(
      describeEvent({
        type: 'thd-high',
        ts: new Date('2026-11-27T14:00:00.123Z'),
        phase: 'L1',
        magnitude: 8,
        durationMs: 60000,
      }),
    ).toBe('2026-11-27T14:00:00Z thd-high L1 8 % 60000 ms');
  });
});

describe('relay', () => {
  it('needs an action and confirm=true, each named', () => {
    expect(command('relay').parse({ action: ['open'], confirm: ['true'] })).toEqual({
      action: 'open',
    });
    expect(command('relay').parse({ action: ['close'], confirm: ['1'] })).toEqual({
      action: 'close',
    });
    expectBadField('relay', { confirm: ['true'] }, 'action');
    expectBadField('relay', { action: ['toggle'], confirm: ['true'] }, 'action');
    expectBadField('relay', { action: ['open'] }, 'confirm');
    expectBadField('relay', { action: ['open'], confirm: ['false'] }, 'confirm');
    expectBadField('relay', { action: ['open'], confirm: ['yes'] }, 'confirm');
  });

  it('operates the relay', async () => {
    const result = await command('relay').run({ action: 'open' }, ctx());
    expect(f.meter.condition().relay).toBe('open');
    expect(result.fields).toEqual([
      { var: 'relay', type: 'text-single', label: 'Relay state', value: 'open' },
    ]);
  });

  it('is marked unsupported on a meter without a relay', () => {
    const bare = commandFixture({ supportsRelay: false });
    try {
      expect(bare.commands.find((c) => c.name === 'relay')?.supported).toBe(false);
    } finally {
      bare.cleanup();
    }
  });
});

describe('load-limit', () => {
  it('reads a limit and a duration, or clear', () => {
    expect(command('load-limit').parse({ 'limit-kw': ['5'], 'duration-min': ['30'] })).toEqual({
      clear: false,
      limitKw: 5,
      durationMin: 30,
    });
    expect(
      command('load-limit').parse({
        'limit-kw': ['2.5'],
        'duration-min': ['1440'],
        clear: ['false'],
      }),
    ).toMatchObject({ limitKw: 2.5 });
    expect(command('load-limit').parse({ clear: ['true'], 'duration-min': ['60'] })).toEqual({
      clear: true,
    });
    expectBadField('load-limit', { 'duration-min': ['30'] }, 'limit-kw');
    expectBadField('load-limit', { 'limit-kw': ['0'], 'duration-min': ['30'] }, 'limit-kw');
    expectBadField('load-limit', { 'limit-kw': ['-1'], 'duration-min': ['30'] }, 'limit-kw');
    expectBadField('load-limit', { 'limit-kw': ['1e3'], 'duration-min': ['30'] }, 'limit-kw');
    expectBadField('load-limit', { 'limit-kw': ['5'] }, 'duration-min');
    expectBadField('load-limit', { 'limit-kw': ['5'], 'duration-min': ['0'] }, 'duration-min');
    expectBadField('load-limit', { 'limit-kw': ['5'], 'duration-min': ['1441'] }, 'duration-min');
    expectBadField('load-limit', { 'limit-kw': ['5'], clear: ['true'] }, 'clear');
    expectBadField('load-limit', { clear: ['maybe'] }, 'clear');
  });

  it('sets the limit until now + duration, and clears it', async () => {
    const set = await command('load-limit').run(
      { clear: false, limitKw: 5, durationMin: 30 },
      ctx(),
    );
    expect(f.modes.modes.loadLimit).toEqual({
      limitKw: 5,
      until: new Date(f.clock.ms + 30 * 60_000),
    });
    expect(set.text).toBe('Load limit 5 kW until 2026-11-27T14:30:00Z.');
    const cleared = await command('load-limit').run({ clear: true }, ctx());
    expect(f.modes.modes.loadLimit).toBeNull();
    expect(cleared.text).toBe('Load limit cleared.');
  });
});

describe('maintenance', () => {
  it('needs enable; the note is bounded', () => {
    expect(command('maintenance').parse({ enable: ['true'], note: ['  swap  CT '] })).toEqual({
      enable: true,
      note: 'swap CT',
    });
    expectBadField('maintenance', {}, 'enable');
    expectBadField('maintenance', { enable: ['on'] }, 'enable');
    expectBadField('maintenance', { enable: ['true'], note: ['x'.repeat(201)] }, 'note');
  });

  it('switches the mode on and off', async () => {
    await command('maintenance').run({ enable: true, note: 'swap CT' }, ctx());
    expect(f.modes.modes.maintenance).toEqual({ note: 'swap CT' });
    await command('maintenance').run({ enable: false, note: '' }, ctx());
    expect(f.modes.modes.maintenance).toBeNull();
  });
});

describe('reporting', () => {
  it('accepts 5-86400 s and sets the interval', async () => {
    expect(command('reporting').form().fields[0]?.value).toBe('60');
    const args = command('reporting').parse({ 'interval-s': ['300'] });
    const result = await command('reporting').run(args, ctx());
    expect(f.reporting.intervalS).toBe(300);
    expect(result.fields[0]).toMatchObject({
      var: 'interval-s',
      value: '300',
      label: 'Reporting interval (s)',
    });
    expectBadField('reporting', {}, 'interval-s');
    expectBadField('reporting', { 'interval-s': ['4'] }, 'interval-s');
    expectBadField('reporting', { 'interval-s': ['86401'] }, 'interval-s');
    expectBadField('reporting', { 'interval-s': ['5.5'] }, 'interval-s');
    expectBadField('reporting', { 'interval-s': ['1', '2'] }, 'interval-s');
  });
});

describe('log-level (docs/protocol.md extension)', () => {
  it('offers the six levels in a list-single and a revert time', () => {
    const fields = command('log-level').form().fields;
    expect(fields.map((field) => [field.var, field.type])).toEqual([
      ['level', 'list-single'],
      ['minutes', 'text-single'],
    ]);
    expect(fields[0]?.options?.map((o) => o.value)).toEqual([
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
    ]);
    expect(fields[0]?.value).toBe('info');
  });

  it('needs a known level; minutes 0-10080, default 60', () => {
    expectBadField('log-level', {}, 'level');
    expectBadField('log-level', { level: ['verbose'] }, 'level');
    expectBadField('log-level', { level: ['debug'], minutes: ['-1'] }, 'minutes');
    expectBadField('log-level', { level: ['debug'], minutes: ['10081'] }, 'minutes');
    expect(command('log-level').parse({ level: ['DEBUG'] })).toEqual({
      level: 'debug',
      minutes: 60,
    });
    expect(command('log-level').parse({ level: ['warn'], minutes: ['0'] })).toEqual({
      level: 'warn',
      minutes: 0,
    });
  });

  it('sets the level until the revert time, or keeps it with 0 minutes', async () => {
    const run = (raw: RawArgs) => command('log-level').run(command('log-level').parse(raw), ctx());
    const temporary = await run({ level: ['debug'], minutes: ['30'] });
    expect(temporary.text).toMatch(/^Log level debug until \S+Z, then info\.$/);
    expect(f.logLevel.state()).toMatchObject({ level: 'debug', configured: 'info' });
    expect(temporary.fields.every((field) => field.type && field.label)).toBe(true);
    const kept = await run({ level: ['trace'], minutes: ['0'] });
    expect(kept.text).toBe('Log level trace.');
    expect(f.logLevel.state()).toEqual({ level: 'trace', configured: 'info', revertsAt: null });
  });
});

describe('chat lines (PROTOCOL §5)', () => {
  it('read each line into a command and its form values', () => {
    expect(parseChatLine('help')).toEqual({ kind: 'command', name: 'help', raw: {} });
    expect(parseChatLine('  STATUS ')).toEqual({ kind: 'command', name: 'status', raw: {} });
    expect(parseChatLine('read')).toEqual({
      kind: 'command',
      name: 'read',
      raw: { registers: [] },
    });
    expect(parseChatLine('read 1-0:1.8.0 1-0:32.7.0')).toEqual({
      kind: 'command',
      name: 'read',
      raw: { registers: ['1-0:1.8.0', '1-0:32.7.0'] },
    });
    expect(parseChatLine('pq')).toEqual({ kind: 'command', name: 'pq', raw: {} });
    expect(parseChatLine('pq 60')).toEqual({
      kind: 'command',
      name: 'pq',
      raw: { 'window-min': ['60'] },
    });
    expect(parseChatLine('relay open confirm')).toEqual({
      kind: 'command',
      name: 'relay',
      raw: { action: ['open'], confirm: ['true'] },
    });
    expect(parseChatLine('Relay Close Confirm')).toMatchObject({
      raw: { action: ['close'], confirm: ['true'] },
    });
    expect(parseChatLine('relay open')).toEqual({
      kind: 'command',
      name: 'relay',
      raw: { action: ['open'] },
    });
    expect(parseChatLine('limit 5 30')).toEqual({
      kind: 'command',
      name: 'load-limit',
      raw: { 'limit-kw': ['5'], 'duration-min': ['30'] },
    });
    expect(parseChatLine('limit clear')).toEqual({
      kind: 'command',
      name: 'load-limit',
      raw: { clear: ['true'] },
    });
    expect(parseChatLine('maintenance on swap the CT')).toEqual({
      kind: 'command',
      name: 'maintenance',
      raw: { enable: ['true'], note: ['swap the CT'] },
    });
    expect(parseChatLine('maintenance on')).toEqual({
      kind: 'command',
      name: 'maintenance',
      raw: { enable: ['true'] },
    });
    expect(parseChatLine('maintenance off')).toEqual({
      kind: 'command',
      name: 'maintenance',
      raw: { enable: ['false'] },
    });
    expect(parseChatLine('interval 300')).toEqual({
      kind: 'command',
      name: 'reporting',
      raw: { 'interval-s': ['300'] },
    });
    expect(parseChatLine('log DEBUG')).toEqual({
      kind: 'command',
      name: 'log-level',
      raw: { level: ['debug'] },
    });
    expect(parseChatLine('log trace 5')).toEqual({
      kind: 'command',
      name: 'log-level',
      raw: { level: ['trace'], minutes: ['5'] },
    });
  });

  it('leaves everything else unknown', () => {
    for (const line of [
      'hello',
      'help me',
      'relay',
      'relay open now',
      'limit',
      'limit 5',
      'limit 5 30 60',
      'maintenance',
      'maintenance off now',
      'interval',
      'pq 1 2',
      'log',
      'log debug 5 more',
      '',
    ]) {
      expect(parseChatLine(line)).toEqual({ kind: 'unknown' });
    }
  });

  it('hands bad values to the command, which names the field', () => {
    const line = parseChatLine('limit five 30');
    if (line.kind !== 'command') throw new Error('expected a command');
    expectBadField(line.name, line.raw, 'limit-kw');
    const relay = parseChatLine('relay open');
    if (relay.kind !== 'command') throw new Error('expected a command');
    expectBadField(relay.name, relay.raw, 'confirm');
  });
});
