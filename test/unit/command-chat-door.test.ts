import xml, { type Element } from '@xmpp/xml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  answerChatCommands,
  CHAT_HINT,
  MAX_CHAT_BODY_BYTES,
} from '../../meter-agent/xmpp/chat-handler.js';
import { silentLogger } from '../../src/log.js';
import { type CommandFixture, commandFixture, JIDS } from './helpers/command-fixture.js';
import { type FakeXmpp, fakeXmpp } from './helpers/fake-xmpp.js';

// PROTOCOL §5, the chat door without sockets: each line, the hint, one-line refusals, and the
// messages that must never be answered.

let f: CommandFixture;
let x: FakeXmpp;
let stop: () => void;

beforeEach(() => {
  f = commandFixture({ rateLimit: { burst: 20, refillPerS: 1, maxSenders: 16 } });
  x = fakeXmpp();
  stop = answerChatCommands({
    xmpp: x.client,
    dispatcher: f.dispatcher,
    serviceJid: JIDS.service,
    ownJid: 'mtr-0001@grid.example',
    logger: silentLogger(),
  }).stop;
});
afterEach(() => {
  stop();
  f.cleanup();
});

const chat = (
  from: string,
  body: string | undefined,
  attrs: Record<string, string> = {},
  ...extra: Element[]
) =>
  xml(
    'message',
    { from, to: 'mtr-0001@grid.example/agent', type: 'chat', ...attrs },
    ...(body === undefined ? [] : [xml('body', {}, body)]),
    ...extra,
  );

async function say(
  from: string,
  body: string | undefined,
  attrs: Record<string, string> = {},
  ...extra: Element[]
) {
  const before = x.sent.length;
  await x.deliver(chat(from, body, attrs, ...extra));
  return x.sent.slice(before);
}

async function answer(from: string, body: string): Promise<string> {
  const sent = await say(from, body);
  expect(sent).toHaveLength(1);
  expect(sent[0]?.attrs).toMatchObject({ to: from, type: 'chat' });
  return sent[0]?.getChildText('body') ?? '';
}

describe('command lines', () => {
  it('answers help by role, and status', async () => {
    const help = await answer(JIDS.viewer, 'help');
    expect(help.split('\n')[0]).toBe('Commands for your role (viewer):');
    expect(help).toContain('read [register…]');
    expect(help).not.toContain('relay open confirm');
    expect(await answer(JIDS.operator, 'help')).toContain(
      'relay open confirm | relay close confirm',
    );
    expect(await answer(JIDS.viewer, 'status')).toBe(
      'Available (seq 7, since 2026-11-27T13:00:00Z)',
    );
  });

  it('runs the operator lines through the same commands', async () => {
    expect(await answer(JIDS.operator, 'relay open confirm')).toBe('Relay open.');
    expect(f.meter.condition().relay).toBe('open');
    expect(await answer(JIDS.operator, 'relay close confirm')).toBe('Relay closed.');
    expect(await answer(JIDS.operator, 'limit 5 30')).toBe(
      'Load limit 5 kW until 2026-11-27T14:30:00Z.',
    );
    expect(await answer(JIDS.operator, 'limit clear')).toBe('Load limit cleared.');
    expect(await answer(JIDS.operator, 'maintenance on new CT')).toBe(
      'Maintenance mode on: new CT.',
    );
    expect(f.modes.modes.maintenance).toEqual({ note: 'new CT' });
    expect(await answer(JIDS.operator, 'maintenance off')).toBe('Maintenance mode off.');
    expect(await answer(JIDS.operator, 'interval 300')).toBe('Reporting every 300 s.');
    expect(await answer(JIDS.operator, 'read 1-0:14.7.0')).toMatch(/^Frequency: \d+\.\d{3} Hz$/);
    expect(f.audit.every((a) => a.via === 'chat' && a.outcome === 'ok')).toBe(true);
  });

  it('sets the log level for admins only (docs/protocol.md extension)', async () => {
    expect(await answer(JIDS.admin, 'help')).toContain('log <level> [minutes]');
    expect(await answer(JIDS.operator, 'help')).not.toContain('log <level>');
    expect(await answer(JIDS.operator, 'log debug')).toBe(
      'Refused (forbidden): log-level needs the admin role',
    );
    expect(await answer(JIDS.admin, 'log verbose')).toBe(
      "Refused (bad-request): level: 'verbose' is not a level (fatal, error, warn, info, debug, trace)",
    );
    expect(await answer(JIDS.admin, 'log debug 15')).toBe(
      'Log level debug until 2026-11-27T14:15:00.000Z, then info.',
    );
    expect(f.logLevel.state().level).toBe('debug');
    expect(f.audit.map((a) => [a.command, a.outcome, a.condition])).toEqual([
      ['help', 'ok', undefined],
      ['help', 'ok', undefined],
      ['log-level', 'refused', 'forbidden'],
      ['log-level', 'refused', 'bad-request'],
      ['log-level', 'ok', undefined],
    ]);
  });

  it('refuses in one line, naming the field or the role', async () => {
    expect(await answer(JIDS.operator, 'relay open')).toBe(
      'Refused (bad-request): confirm: must be true to open the relay',
    );
    expect(await answer(JIDS.operator, 'limit 5 2000')).toBe(
      'Refused (bad-request): duration-min: 2000 is out of range (1-1440)',
    );
    expect(await answer(JIDS.viewer, 'relay open confirm')).toBe(
      'Refused (forbidden): relay needs the operator role',
    );
    expect(await answer(JIDS.stranger, 'status')).toBe(
      'Refused (forbidden): not authorised to command this meter',
    );
    expect(await answer(JIDS.stranger, 'hello')).toBe(
      'Refused (forbidden): not authorised to command this meter',
    );
    expect(f.meter.condition().relay).toBe('closed');
    expect(f.audit.map((a) => a.condition)).toEqual([
      'bad-request',
      'bad-request',
      'forbidden',
      'forbidden',
      'forbidden',
    ]);
  });

  it('hints at help for anything else, and audits it', async () => {
    expect(await answer(JIDS.operator, 'please open the relay')).toBe(CHAT_HINT);
    expect(f.audit).toMatchObject([
      {
        command: 'unknown',
        args: { line: ['please open the relay'] },
        condition: 'item-not-found',
      },
    ]);
  });

  it('keeps the thread of the conversation', async () => {
    const [reply] = await say(JIDS.viewer, 'status', {}, xml('thread', {}, 't-42'));
    expect(reply?.getChildText('thread')).toBe('t-42');
  });
});

describe('what is not answered, or answered otherwise', () => {
  it('ignores other types, no body, errors and our own account', async () => {
    expect(await say(JIDS.operator, 'status', { type: 'normal' })).toEqual([]);
    expect(await say(JIDS.operator, 'status', { type: 'error' })).toEqual([]);
    expect(await say(JIDS.operator, 'status', { type: 'groupchat' })).toEqual([]);
    expect(
      await say(
        JIDS.operator,
        undefined,
        {},
        xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    ).toEqual([]);
    expect(await say(JIDS.operator, '   ')).toEqual([]);
    expect(await say('mtr-0001@grid.example/other', 'status')).toEqual([]);
    expect(f.audit).toEqual([]);
  });

  it('answers the presence service only when it sends a command', async () => {
    expect(await say(JIDS.service, 'Group summary: 3 ok')).toEqual([]);
    expect(await answer(JIDS.service, 'status')).toMatch(/^Available/);
  });

  it('answers an oversized body with an error stanza', async () => {
    const [reply] = await say(JIDS.operator, 'x'.repeat(MAX_CHAT_BODY_BYTES + 1), { id: 'm1' });
    expect(reply?.attrs).toMatchObject({ type: 'error', id: 'm1', to: JIDS.operator });
    expect(reply?.getChild('error')?.getChild('not-acceptable')).toBeTruthy();
    expect(reply?.getChild('body')).toBeUndefined();
    expect(f.audit).toMatchObject([{ outcome: 'refused', condition: 'not-acceptable' }]);
  });

  it('does not carry out a command stored while the meter was offline', async () => {
    const delay = xml('delay', {
      xmlns: 'urn:xmpp:delay',
      from: 'grid.example',
      stamp: '2026-11-27T10:00:00Z',
    });
    const [reply] = await say(JIDS.operator, 'relay open confirm', {}, delay);
    expect(reply?.getChildText('body')).toBe(
      'Refused (not-allowed): sent while the meter was offline; not carried out, send it again',
    );
    expect(f.meter.condition().relay).toBe('closed');
  });

  it('answers a flood once, then stays silent until the sender slows down', async () => {
    const replies = [];
    for (let i = 0; i < 30; i += 1) replies.push(...(await say(JIDS.viewer, 'status')));
    expect(replies).toHaveLength(21);
    expect(replies.at(-1)?.getChildText('body')).toBe(
      'Refused (resource-constraint): too many commands; try again in 1 s',
    );
  });
});
