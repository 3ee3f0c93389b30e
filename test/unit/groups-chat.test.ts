import type { Component } from '@xmpp/component';
import xml, { type Element } from '@xmpp/xml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  CommandOutcome,
  CommandRunner,
} from '../../presence-service/commands/command-client.js';
import {
  createGroupCommands,
  type GroupCommands,
} from '../../presence-service/groups/group-commands.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createGroupDirectory } from '../../presence-service/store/group-directory.js';
import { createJobStore, type JobStore } from '../../presence-service/store/job-store.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { answerGroupChat } from '../../presence-service/xmpp/group-chat-handler.js';
import { silentLogger } from '../../src/log.js';
import type { Role } from '../../src/protocol/commands.js';
import { fakeXmpp } from './helpers/fake-xmpp.js';

// PROTOCOL §5 and §7, the group chat door without sockets: a line to <group>@presence.<domain>
// is answered at once and then with one summary, both from the group's JID; roles, unknown
// groups, garbage and the messages never answered.

const COMPONENT = 'presence.grid.example';
const GROUP_JID = `feeder-1@${COMPONENT}`;
const ROLES: Record<string, Role> = {
  'root@grid.example': 'admin',
  'op@grid.example': 'operator',
  'viewer@grid.example': 'viewer',
};
const OPERATOR = 'op@grid.example/gajim';

describe('group chat door', () => {
  let db: Database;
  let jobs: JobStore;
  let commands: GroupCommands;
  let fake: ReturnType<typeof fakeXmpp>;
  let door: { stop(): void };
  const asked: string[] = [];

  const run: CommandRunner = async (meterId, node): Promise<CommandOutcome> => {
    asked.push(`${meterId} ${node}`);
    return meterId === 'mtr-0002' ? { kind: 'timeout' } : { kind: 'ok', fields: {}, note: '' };
  };

  beforeEach(() => {
    asked.length = 0;
    db = openDatabase(':memory:');
    const registry = createMeterRegistry({ db });
    registry.addMany(
      ['mtr-0001', 'mtr-0002', 'mtr-0003'].map((id) => ({
        id,
        domain: 'grid.example',
        groups: ['feeder-1'],
      })),
    );
    const directory = createGroupDirectory({ db });
    jobs = createJobStore({ db });
    commands = createGroupCommands({ groups: directory, jobs, run, logger: silentLogger() });
    fake = fakeXmpp(COMPONENT);
    door = answerGroupChat({
      xmpp: fake.client as unknown as Component,
      componentJid: COMPONENT,
      domain: 'grid.example',
      roleOf: (jid) => ROLES[jid.split('/')[0] as string] ?? null,
      isMeter: (id) => registry.get(id) !== undefined,
      directory,
      commands,
      logger: silentLogger(),
    });
  });

  afterEach(() => {
    door.stop();
    commands.stop();
    db.close();
  });

  const message = (body: string | null, attrs: Record<string, string> = {}) =>
    xml(
      'message',
      { from: OPERATOR, to: GROUP_JID, type: 'chat', ...attrs },
      ...(body === null ? [] : [xml('body', {}, body)]),
    );

  /** Delivers a message and returns the bodies of the answers, waiting for `count` of them. */
  async function send(stanza: Element, count = 1): Promise<string[]> {
    const before = fake.sent.length;
    await fake.deliver(stanza);
    for (let i = 0; i < 50 && fake.sent.length - before < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const answers = fake.sent.slice(before);
    for (const answer of answers) {
      expect(answer.attrs).toMatchObject({
        from: stanza.attrs.to,
        to: stanza.attrs.from,
        type: 'chat',
      });
    }
    return answers.map((a) => a.getChildText('body') ?? '');
  }

  it('answers at once, then with one summary from the group', async () => {
    const [started, summary] = await send(message('read 1-0:1.8.0'), 2);
    expect(started).toBe('running read on 3 meters… (job 1)');
    expect(summary).toMatch(/^2 of 3 ok; 1 timed out: mtr-0002 \(\d+\.\d s\) — job 1$/);
    expect(asked).toEqual([
      'mtr-0001 urn:gridpresence:cmd:read',
      'mtr-0002 urn:gridpresence:cmd:read',
      'mtr-0003 urn:gridpresence:cmd:read',
    ]);
    expect(jobs.get(1)).toMatchObject({
      requestedBy: 'op@grid.example',
      via: 'chat',
      args: { registers: ['1-0:1.8.0'] },
      status: 'done',
    });
  });

  it('keeps the thread of the conversation', async () => {
    await fake.deliver(
      xml(
        'message',
        { from: OPERATOR, to: GROUP_JID, type: 'chat' },
        xml('body', {}, 'status'),
        xml('thread', {}, 't-1'),
      ),
    );
    expect(fake.sent.at(-1)?.getChildText('thread')).toBe('t-1');
  });

  it('answers status from the registry without asking a meter, and help with the syntax', async () => {
    expect(await send(message('status'))).toEqual(['feeder-1: 3 meters — 3 decoupled']);
    const [help] = await send(message('help', { from: 'viewer@grid.example/phone' }));
    expect(help).toContain('Commands for group feeder-1 (your role: viewer)');
    expect(help).toContain('read [register…]');
    expect(help).not.toContain('relay open confirm');
    expect(asked).toEqual([]);
  });

  it('refuses a viewer an operator command and a stranger everything, in one line', async () => {
    expect(
      await send(message('relay open confirm', { from: 'viewer@grid.example/phone' })),
    ).toEqual(['Refused (forbidden): relay needs the operator role']);
    expect(await send(message('read', { from: 'mallory@evil.example/x' }))).toEqual([
      'Refused (forbidden): not authorised to command groups here',
    ]);
    // a stranger does not learn whether a group exists
    expect(
      await send(message('read', { from: 'mallory@evil.example/x', to: `nope@${COMPONENT}` })),
    ).toEqual(['Refused (forbidden): not authorised to command groups here']);
    expect(asked).toEqual([]);
    expect(jobs.get(1)).toBeUndefined();
  });

  it('names an unknown group, and hints at help for garbage', async () => {
    expect(await send(message('read', { to: `feeder-9@${COMPONENT}` }))).toEqual([
      "No group 'feeder-9' here: no meter is in it.",
    ]);
    expect(await send(message('open sesame'))).toEqual([
      "Unknown command. Send 'help' for the list.",
    ]);
  });

  it("does not fan out the agent's own log-level extension, nor list it", async () => {
    const admin = 'root@grid.example/laptop';
    for (const from of [admin, OPERATOR]) {
      expect(await send(message('log debug', { from }))).toEqual([
        "Unknown command. Send 'help' for the list.",
      ]);
    }
    const [help] = await send(message('help', { from: admin }));
    expect(help).toContain('relay open confirm');
    expect(help).not.toContain('log <level>');
  });

  it('ignores other message types, empty bodies, meters and the component itself', async () => {
    for (const stanza of [
      message('read', { type: 'normal' }),
      message('read', { type: 'error' }),
      message('read', { type: 'headline' }),
      xml('message', { from: OPERATOR, to: GROUP_JID }, xml('body', {}, 'read')),
      message(null),
      message('   '),
      message('read', { from: 'mtr-0001@grid.example/agent' }),
      message('read', { to: COMPONENT }),
    ]) {
      await fake.deliver(stanza);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fake.sent).toEqual([]);
    expect(asked).toEqual([]);
  });

  it('refuses a command stored while the service was away (XEP-0203)', async () => {
    const delayed = message('relay open confirm');
    delayed.append(xml('delay', { xmlns: 'urn:xmpp:delay', stamp: '2026-11-27T14:00:00Z' }));
    expect(await send(delayed)).toEqual([
      'Refused (not-allowed): sent while the service was offline; not carried out, send it again',
    ]);
    expect(asked).toEqual([]);
  });
});
