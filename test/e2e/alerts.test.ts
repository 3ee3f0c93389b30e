import { readFileSync } from 'node:fs';
import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertService } from '../../presence-service/alerts/alert-service.js';
import { type AlertStore, createAlertStore } from '../../presence-service/alerts/alert-store.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import {
  createPresenceRecorder,
  type PresenceRecorder,
} from '../../presence-service/presence/presence-recorder.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  type PresenceStore,
} from '../../presence-service/store/presence-store.js';
import {
  alertAckers,
  answerAlertChat,
  createAlertSender,
} from '../../presence-service/xmpp/alert-chat-handler.js';
import type { ComponentConnection } from '../../presence-service/xmpp/component-connection.js';
import { type RunningProsody, startProsody } from '../../src/harness/index.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../../src/stack/wait.js';
import { createClient } from '../../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../../src/xmpp/workarounds/await-stream-management.js';
import { startTestComponent } from './helpers/test-component.js';

// Issue 4 §5 against a real Prosody (STYLE §7): a meter that flaps 20 times, recorded by the real
// recorder on a real bus and store, reaches a real operator's XMPP client as exactly one flapping
// alert after a bounded few; the operator answers `ack <id>` by chat and the store has it.

const METER = 'mtr-0001';
const OPERATOR = { username: 'ops', password: 'ops-secret-1' };

let prosody: RunningProsody;
let db: Database;
let store: PresenceStore;
let alerts: AlertStore;
let recorder: PresenceRecorder;
let connection: ComponentConnection;
let operator: Client;
const received: Element[] = [];
const stops: Array<() => unknown> = [];

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.createAccounts([OPERATOR]);
  const operatorJid = `${OPERATOR.username}@${prosody.domain}`;

  db = openDatabase(':memory:');
  const registry = createMeterRegistry({ db });
  registry.addMany([{ id: METER, domain: prosody.domain }]);
  store = createPresenceStore({ db });
  alerts = createAlertStore({ db });
  const bus = createChangeBus();
  recorder = createPresenceRecorder({ store, bus, logger: silentLogger() });

  ({ connection } = await startTestComponent(prosody));
  stops.push(() => connection.supervisor.stop());

  const service = createAlertService({
    config: {
      xmpp: [operatorJid],
      email: [],
      onRecovery: true,
      flapping: { changes: 5, windowMin: 10 },
      repeatAfterS: 300,
      maxPerMinute: 20,
    },
    bus,
    store: alerts,
    send: createAlertSender({ xmpp: connection.xmpp, componentJid: prosody.componentJid }),
    logger: silentLogger(),
  });
  service.start();
  stops.push(() => service.stop());
  const door = answerAlertChat({
    xmpp: connection.xmpp,
    componentJid: prosody.componentJid,
    domain: prosody.domain,
    mayAck: alertAckers({ recipients: [operatorJid], roleOf: () => null }),
    isMeter: (id) => registry.get(id) !== undefined,
    store: alerts,
    logger: silentLogger(),
  });
  stops.push(() => door.stop());

  operator = await createClient({
    service: `xmpps://${prosody.host}:${prosody.directTlsPort}`,
    domain: prosody.domain,
    ...OPERATOR,
    resource: 'desk',
    caPem: readFileSync(prosody.caFile, 'utf8'),
    logger: silentLogger(),
  });
  operator.on('error', () => {});
  operator.on('stanza', (stanza: Element) => {
    if (stanza.is('message') && stanza.attrs.from === prosody.componentJid) received.push(stanza);
  });
  await operator.start();
  stops.push(() => operator.stop().catch(() => {}));
  // XMPP-NOTES: the first presence only after stream management is enabled; without an
  // available presence Prosody would not deliver chat to the bare JID to this resource.
  await awaitStreamManagement(operator);
  await operator.send(xml('presence'));
}, 60_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  db?.close();
  await prosody?.stop();
});

const bodies = () => received.map((m) => m.getChildText('body') ?? '');

/** Sends a chat line to the service and waits for the answer that matches. */
async function ask(line: string, answer: RegExp): Promise<string> {
  await operator.send(
    xml('message', { to: prosody.componentJid, type: 'chat' }, xml('body', {}, line)),
  );
  return waitFor(`an answer to '${line}'`, () => bodies().find((b) => answer.test(b)), 10_000);
}

describe('alerts to a real operator', () => {
  it('turns a meter flapping 20 times into one flapping alert, and takes the ack by chat', async () => {
    const since = '2026-11-27T12:00:00Z';
    const status = (seq: number) =>
      ({ state: 'available', seq, since, kind: 'revenue-meter' }) as const;
    recorder.status(METER, status(1), 'push', new Date()); // first sighting: no alert
    for (let i = 0; i < 20; i++) {
      if (i % 2 === 0) recorder.gone(METER, 'no-response', 'ping', new Date());
      else recorder.status(METER, status(i + 1), 'push', new Date());
    }
    expect(store.history(METER, { limit: 100 })).toHaveLength(21);

    await waitFor('the flapping alert', () => bodies().find((b) => / flapping: /.test(b)), 10_000);
    // Messages from the component arrive in order: once the answer to `alerts` is here, every
    // alert sent before it is here too, so the count below is final.
    const list = await ask('alerts', /^\d+ open alerts?, newest first:/);
    const alertLines = bodies().filter((b) => b.startsWith('ALERT '));
    expect(alertLines).toHaveLength(3);
    expect(alertLines.map((b) => /^ALERT \d+: mtr-0001 (\w+)/.exec(b)?.[1])).toEqual([
      'decoupled',
      'recovered',
      'flapping',
    ]);
    expect(received).toHaveLength(alertLines.length + 1);
    expect(received.every((m) => m.attrs.type === 'chat')).toBe(true);
    expect(list.split('\n')).toHaveLength(4);

    // Every change is on record, sent or not: 2 sent, 3 duplicates, 1 flapping, 14 folded.
    const deliveries = alerts.list({ limit: 100 }).map((a) => a.delivery);
    expect(deliveries.filter((d) => d === 'sent')).toHaveLength(3);
    expect(deliveries.filter((d) => d === 'flapping')).toHaveLength(14);

    const flapping = alertLines.find((b) => b.includes(' flapping: ')) ?? '';
    const id = Number(/^ALERT (\d+):/.exec(flapping)?.[1]);
    expect(flapping).toContain(`Reply "ack ${id}".`);
    const confirmation = await ask(`ack ${id}`, new RegExp(`^Alert ${id} acknowledged: `));
    expect(confirmation).toContain('mtr-0001 flapping: 6 state changes within 10 min');
    expect(alerts.get(id)).toMatchObject({
      ackedBy: `${OPERATOR.username}@${prosody.domain}`,
      kind: 'flapping',
    });
    expect(alerts.open(10).map((a) => a.kind)).toEqual(['recovered', 'decoupled']);
  });
});
