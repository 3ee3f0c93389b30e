import type { Component } from '@xmpp/component';
import xml, { type Element } from '@xmpp/xml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAlertService } from '../../presence-service/alerts/alert-service.js';
import {
  type AlertStore,
  createAlertStore,
  type NewAlert,
} from '../../presence-service/alerts/alert-store.js';
import type { AlertsConfig } from '../../presence-service/config.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import type { RecordedChange } from '../../presence-service/store/presence-store.js';
import {
  alertAckers,
  answerAlertChat,
  createAlertSender,
  parseAlertCommand,
} from '../../presence-service/xmpp/alert-chat-handler.js';
import { silentLogger } from '../../src/log.js';
import type { Role } from '../../src/protocol/commands.js';
import { fakeXmpp } from './helpers/fake-xmpp.js';

// Issue 4 §5, the alert chat door without sockets: `ack <id>`, `ack all`, `alerts` and `help`
// to the service's bare JID, answered from it; who may, who is refused, who is never answered;
// and the alert messages themselves, from the change bus to the operator's chat window.

const COMPONENT = 'presence.grid.example';
const OPS = 'ops@grid.example';
const OPERATOR = `${OPS}/gajim`;
const ACL: Record<string, Role> = {
  'admin@grid.example': 'admin',
  'viewer@grid.example': 'viewer',
};
const NOW = new Date('2026-11-27T12:30:00.000Z');

const alert = (meterId: string, overrides: Partial<NewAlert> = {}): NewAlert => ({
  meterId,
  kind: 'decoupled',
  raisedAt: '2026-11-27T12:00:03.000Z',
  historyId: 1,
  state: 'decoupled',
  reasonCode: 'no-response',
  text: `${meterId} decoupled (no-response) at 2026-11-27T12:00:03Z`,
  delivery: 'sent',
  ...overrides,
});

describe('alert chat door', () => {
  let db: Database;
  let store: AlertStore;
  let fake: ReturnType<typeof fakeXmpp>;
  let door: { stop(): void };

  beforeEach(() => {
    db = openDatabase(':memory:');
    const registry = createMeterRegistry({ db });
    registry.addMany([{ id: 'mtr-0001', domain: 'grid.example' }]);
    store = createAlertStore({ db });
    fake = fakeXmpp(COMPONENT);
    door = answerAlertChat({
      xmpp: fake.client as unknown as Component,
      componentJid: COMPONENT,
      domain: 'grid.example',
      mayAck: alertAckers({
        recipients: [OPS],
        roleOf: (jid) => ACL[jid.split('/')[0] ?? ''] ?? null,
      }),
      isMeter: (id) => registry.get(id) !== undefined,
      store,
      logger: silentLogger(),
      now: () => NOW,
    });
  });

  afterEach(() => {
    door.stop();
    db.close();
  });

  const message = (body: string | null, attrs: Record<string, string> = {}) =>
    xml(
      'message',
      { from: OPERATOR, to: COMPONENT, type: 'chat', ...attrs },
      ...(body === null ? [] : [xml('body', {}, body)]),
    );

  /** Delivers a message and returns the bodies of the answers, each checked to be a chat reply. */
  async function send(stanza: Element): Promise<string[]> {
    const before = fake.sent.length;
    await fake.deliver(stanza);
    const answers = fake.sent.slice(before);
    for (const answer of answers) {
      expect(answer.attrs).toEqual({ from: COMPONENT, to: stanza.attrs.from, type: 'chat' });
    }
    return answers.map((a) => a.getChildText('body') ?? '');
  }

  it('acknowledges one alert by id, records who and when, and says so', async () => {
    const id = store.insert(alert('mtr-0007'));
    expect(await send(message(`ack ${id}`))).toEqual([
      `Alert ${id} acknowledged: mtr-0007 decoupled (no-response) at 2026-11-27T12:00:03Z.`,
    ]);
    expect(store.get(id)).toMatchObject({ ackedBy: OPS, ackedAt: NOW.toISOString() });
    expect(await send(message(`ACK  #${id}`, { from: 'admin@grid.example/x' }))).toEqual([
      `Alert ${id} was already acknowledged by ${OPS} at 2026-11-27T12:30:00Z.`,
    ]);
    expect(store.get(id)?.ackedBy).toBe(OPS);
  });

  it('names an id it does not know', async () => {
    expect(await send(message('ack 99'))).toEqual([
      'No alert 99. Send "alerts" for the open ones.',
    ]);
  });

  it('acknowledges every open alert with `ack all`, and nothing already closed', async () => {
    const sent = store.insert(alert('mtr-0007'));
    const held = store.insert(alert('mtr-0008', { delivery: 'rate-limited' }));
    const duplicate = store.insert(alert('mtr-0007', { delivery: 'duplicate' }));
    store.ack(sent, 'bob@grid.example', '2026-11-27T12:10:00.000Z');
    const open = store.insert(alert('mtr-0009'));
    expect(await send(message('ack all'))).toEqual(['Acknowledged 2 open alerts.']);
    expect([sent, held, duplicate, open].map((id) => store.get(id)?.ackedBy ?? null)).toEqual([
      'bob@grid.example',
      OPS,
      null,
      OPS,
    ]);
    expect(await send(message('ack all'))).toEqual(['No open alerts.']);
  });

  it('lists the open alerts newest first, held-back ones marked, with the API for the rest', async () => {
    expect(await send(message('alerts'))).toEqual(['No open alerts.']);
    const ids = ['mtr-0007', 'mtr-0008'].map((id) => store.insert(alert(id)));
    store.insert(alert('mtr-0009', { delivery: 'rate-limited' }));
    store.insert(alert('mtr-0007', { delivery: 'duplicate' }));
    store.insert(alert('mtr-0007', { delivery: 'flapping' }));
    const [answer] = await send(message('alerts'));
    expect(answer?.split('\n')).toEqual([
      '3 open alerts, newest first:',
      '#3 mtr-0009 decoupled (no-response) at 2026-11-27T12:00:03Z (held back)',
      `#${ids[1]} mtr-0008 decoupled (no-response) at 2026-11-27T12:00:03Z`,
      `#${ids[0]} mtr-0007 decoupled (no-response) at 2026-11-27T12:00:03Z`,
    ]);
    for (let i = 0; i < 25; i++) store.insert(alert(`mtr-${1000 + i}`));
    const lines = (await send(message('alerts')))[0]?.split('\n') ?? [];
    expect(lines[0]).toBe('28 open alerts, newest first:');
    expect(lines).toHaveLength(1 + 20 + 1);
    expect(lines.at(-1)).toBe('… and 8 more: GET /api/alerts?open=true');
  });

  it('explains itself on `help` and hints at help for anything else', async () => {
    const [help] = await send(message('help'));
    expect(help).toContain(`Alerts from ${COMPONENT}`);
    expect(help).toContain('ack <id>');
    expect(help).toContain('ack all');
    expect(await send(message('acknowledge everything'))).toEqual([
      "Unknown command. Send 'help' for the list.",
    ]);
  });

  it('lets an ACL operator or admin acknowledge; refuses a viewer and a stranger in one line', async () => {
    const id = store.insert(alert('mtr-0007'));
    for (const from of ['viewer@grid.example/phone', 'mallory@evil.example/x']) {
      expect(await send(message(`ack ${id}`, { from }))).toEqual([
        'Refused (forbidden): not authorised to handle alerts here',
      ]);
      expect(await send(message('alerts', { from }))).toEqual([
        'Refused (forbidden): not authorised to handle alerts here',
      ]);
    }
    expect(store.get(id)?.ackedAt).toBeNull();
    await send(message(`ack ${id}`, { from: 'admin@grid.example/desk' }));
    expect(store.get(id)?.ackedBy).toBe('admin@grid.example');
  });

  it('never answers meters, other message types, empty bodies, servers or group JIDs', async () => {
    const id = store.insert(alert('mtr-0007'));
    for (const stanza of [
      message(`ack ${id}`, { from: 'mtr-0001@grid.example/agent' }),
      message(`ack ${id}`, { type: 'normal' }),
      message(`ack ${id}`, { type: 'error' }),
      message(`ack ${id}`, { type: 'headline' }),
      xml('message', { from: OPERATOR, to: COMPONENT }, xml('body', {}, `ack ${id}`)),
      message(null),
      message('   '),
      message(`ack ${id}`, { from: 'grid.example' }),
      message(`ack ${id}`, { to: `feeder-1@${COMPONENT}` }),
    ]) {
      await fake.deliver(stanza);
    }
    expect(fake.sent).toEqual([]);
    expect(store.get(id)?.ackedAt).toBeNull();
  });

  it('refuses an ack stored while the service was away (XEP-0203), but still lists', async () => {
    const id = store.insert(alert('mtr-0007'));
    const delayed = (body: string) => {
      const stanza = message(body);
      stanza.append(xml('delay', { xmlns: 'urn:xmpp:delay', stamp: '2026-11-27T12:00:00Z' }));
      return stanza;
    };
    for (const body of [`ack ${id}`, 'ack all']) {
      expect(await send(delayed(body))).toEqual([
        'Refused (not-allowed): sent while the service was offline; not done, send it again',
      ]);
    }
    expect(store.get(id)?.ackedAt).toBeNull();
    expect((await send(delayed('alerts')))[0]).toMatch(/^1 open alert, newest first:/);
  });

  it('keeps the thread of the conversation', async () => {
    await fake.deliver(
      xml(
        'message',
        { from: OPERATOR, to: COMPONENT, type: 'chat' },
        xml('body', {}, 'alerts'),
        xml('thread', {}, 't-1'),
      ),
    );
    expect(fake.sent.at(-1)?.getChildText('thread')).toBe('t-1');
  });
});

describe('parseAlertCommand', () => {
  it('reads the four lines in any case and spacing, and nothing else', () => {
    expect(parseAlertCommand(' Ack   #17 ')).toEqual({ kind: 'ack', id: 17 });
    expect(parseAlertCommand('ACK ALL')).toEqual({ kind: 'ack-all' });
    expect(parseAlertCommand('Alerts')).toEqual({ kind: 'alerts' });
    expect(parseAlertCommand('help')).toEqual({ kind: 'help' });
    for (const line of ['ack', 'ack 1.5', 'ack -3', 'ack 17 18', 'ack 1234567890123456']) {
      expect(parseAlertCommand(line)).toEqual({ kind: 'unknown' });
    }
  });
});

describe('alert messages', () => {
  const CONFIG: AlertsConfig = {
    xmpp: [OPS, 'duty@grid.example'],
    email: [],
    onRecovery: true,
    flapping: { changes: 5, windowMin: 10 },
    repeatAfterS: 300,
    maxPerMinute: 20,
  };

  const change = (id: number, state: 'available' | 'decoupled'): RecordedChange => ({
    id,
    meterId: 'mtr-0007',
    prevState: state === 'decoupled' ? 'available' : 'decoupled',
    state,
    reasonCode: state === 'decoupled' ? 'no-response' : null,
    reasonText: null,
    seq: null,
    since: null,
    kind: null,
    receivedAt: '2026-11-27T12:00:03.123Z',
    source: 'ping',
    gap: 0,
  });

  it('stores each alert and sends it as chat from the component to every recipient', async () => {
    const db = openDatabase(':memory:');
    const store = createAlertStore({ db });
    const fake = fakeXmpp(COMPONENT);
    const bus = createChangeBus();
    const mails: string[] = [];
    const service = createAlertService({
      config: { ...CONFIG, email: ['boss@grid.example'] },
      bus,
      store,
      send: createAlertSender({
        xmpp: fake.client as unknown as Component,
        componentJid: COMPONENT,
      }),
      sendEmail: async (to, subject) => {
        mails.push(`${to}: ${subject}`);
      },
      now: () => NOW,
      logger: silentLogger(),
    });
    service.start();
    try {
      bus.publish(change(41, 'decoupled'));
      bus.publish(change(42, 'decoupled')); // the same meter and kind again: a duplicate
      await new Promise((resolve) => setImmediate(resolve));
      expect(fake.sent.map((m) => m.toString())).toEqual(
        [OPS, 'duty@grid.example'].map((to) =>
          xml(
            'message',
            { from: COMPONENT, to, type: 'chat' },
            xml(
              'body',
              {},
              'ALERT 1: mtr-0007 decoupled (no-response) at 2026-11-27T12:00:03Z. Reply "ack 1".',
            ),
          ).toString(),
        ),
      );
      expect(mails).toEqual([
        'boss@grid.example: ALERT 1: mtr-0007 decoupled (no-response) at 2026-11-27T12:00:03Z',
      ]);
      expect(store.list({ limit: 10 })).toMatchObject([
        { id: 2, historyId: 42, delivery: 'duplicate', raisedAt: NOW.toISOString() },
        { id: 1, historyId: 41, delivery: 'sent', state: 'decoupled', reasonCode: 'no-response' },
      ]);
    } finally {
      service.stop();
      db.close();
    }
    expect(bus.listenerCount()).toBe(0);
  });

  it('keeps the alert open when sending fails', async () => {
    const db = openDatabase(':memory:');
    const store = createAlertStore({ db });
    const bus = createChangeBus();
    const service = createAlertService({
      config: CONFIG,
      bus,
      store,
      send: async () => {
        throw new Error('component offline');
      },
      logger: silentLogger(),
    });
    service.start();
    bus.publish(change(1, 'decoupled'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.open(10)).toMatchObject([{ meterId: 'mtr-0007', delivery: 'sent' }]);
    service.stop();
    db.close();
  });
});
