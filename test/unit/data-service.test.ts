import { EventEmitter } from 'node:events';
import xml, { type Element } from '@xmpp/xml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleMeterData } from '../../presence-service/data/data-handler.js';
import {
  createDataRecorder,
  type DataRecorder,
} from '../../presence-service/data/data-recorder.js';
import { createDataStore, type DataStore } from '../../presence-service/data/data-store.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  type PresenceStore,
} from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';
import {
  buildDataElement,
  buildDataMessage,
  type DataItem,
  NS_DATA,
  type ReadingItem,
} from '../../src/protocol/index.js';

// The service's side of PROTOCOL §6: the store (dedupe by seq across kinds), the recorder (gaps,
// conflicts) and the stanza handler (who may send what), on an in-memory database.

const DOMAIN = 'grid.example';
const SERVICE = `presence.${DOMAIN}`;
const FROM = `m-1@${DOMAIN}/agent`;

const reading = (seq: number, ts: string, extra: Partial<ReadingItem> = {}): ReadingItem => ({
  kind: 'reading',
  ts,
  seq,
  values: [
    { id: '1-0:1.8.0', value: `${seq}.000`, unit: 'kWh' },
    { id: '1-0:32.7.0', value: '230.1', unit: 'V' },
  ],
  ...extra,
});
const at = (minute: number) => `2026-11-27T14:${String(minute).padStart(2, '0')}:00.000Z`;
const meta = { receivedAt: '2026-11-27T15:00:00.000Z', delayed: false };

let db: Database;
let data: DataStore;
let presence: PresenceStore;

beforeEach(() => {
  db = openDatabase(':memory:');
  data = createDataStore({ db });
  presence = createPresenceStore({ db });
  createMeterRegistry({ db }).addMany([{ id: 'm-1', domain: DOMAIN }]);
});
afterEach(() => db.close());

describe('the data store', () => {
  it('stores readings, events and audit entries and lists them by the meter’s time', () => {
    for (let seq = 1; seq <= 5; seq++) data.record('m-1', reading(seq, at(seq)), meta);
    data.record(
      'm-1',
      {
        kind: 'event',
        ts: at(6),
        seq: 6,
        type: 'sag',
        phase: 'L2',
        magnitude: 0.8,
        durationMs: 90,
      },
      { ...meta, delayed: true },
    );
    data.record(
      'm-1',
      {
        kind: 'audit',
        ts: at(7),
        seq: 7,
        from: 'alice@grid.example/pc',
        via: 'chat',
        command: 'relay',
        args: { action: ['open'], confirm: ['true'] },
        outcome: 'refused',
        condition: 'forbidden',
        detail: 'viewer only',
      },
      meta,
    );

    expect(data.readings('m-1', { limit: 10 }).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(data.readings('m-1', { limit: 2 }).map((r) => r.seq)).toEqual([4, 5]); // newest, in order
    expect(data.readings('m-1', { since: at(2), limit: 2 }).map((r) => r.seq)).toEqual([2, 3]);
    expect(
      data.readings('m-1', { since: at(2), until: at(3), limit: 9 }).map((r) => r.seq),
    ).toEqual([2, 3]);
    expect(data.readings('m-1', { until: at(1), limit: 9 }).map((r) => r.seq)).toEqual([1]);
    expect(data.readings('m-1', { limit: 1 })[0]).toEqual({
      seq: 5,
      ts: at(5),
      receivedAt: meta.receivedAt,
      delayed: false,
      dropped: 0,
      values: reading(5, at(5)).values,
    });
    expect(data.events('m-1', { limit: 9 })).toEqual([
      {
        seq: 6,
        ts: at(6),
        receivedAt: meta.receivedAt,
        delayed: true,
        type: 'sag',
        phase: 'L2',
        magnitude: 0.8,
        durationMs: 90,
        detail: null,
      },
    ]);
    expect(data.audit('m-1', { limit: 9 })[0]).toMatchObject({
      seq: 7,
      from: 'alice@grid.example/pc',
      via: 'chat',
      command: 'relay',
      args: { action: ['open'], confirm: ['true'] },
      outcome: 'refused',
      condition: 'forbidden',
      detail: 'viewer only',
    });
    expect(data.maxSeq('m-1')).toBe(7);
    expect(data.maxSeq('m-2')).toBe(0);
    expect(data.hasData('m-1')).toBe(true);
    expect(data.hasData('m-2')).toBe(false);
  });

  it('normalises the meter’s ts to UTC so ranges compare as text', () => {
    data.record('m-1', reading(1, '2026-11-27T15:30:00+01:00'), meta);
    expect(data.readings('m-1', { limit: 1 })[0]?.ts).toBe('2026-11-27T14:30:00.000Z');
  });

  it('drops a duplicate by seq and refuses a seq reused for something else, across kinds', () => {
    expect(data.record('m-1', reading(1, at(1)), meta)).toEqual({ status: 'stored' });
    expect(data.record('m-1', reading(1, at(1)), { ...meta, delayed: true })).toEqual({
      status: 'duplicate',
    });
    expect(data.record('m-1', reading(1, at(9)), meta)).toMatchObject({ status: 'conflict' });
    expect(
      data.record('m-1', { kind: 'event', ts: at(1), seq: 1, type: 'tamper' }, meta),
    ).toMatchObject({ status: 'conflict', existing: { kind: 'reading', ts: at(1) } });
    // another meter's seq 1 is its own
    expect(data.record('m-2', reading(1, at(1)), meta)).toEqual({ status: 'stored' });
    expect(data.readings('m-1', { limit: 9 })).toHaveLength(1);
    expect(data.readings('m-1', { limit: 9 })[0]?.delayed).toBe(false);
  });
});

describe('the data recorder', () => {
  let recorder: DataRecorder;
  const warnings: string[] = [];
  beforeEach(() => {
    warnings.length = 0;
    const logger = silentLogger();
    logger.warn = ((_obj: unknown, msg: string) => {
      warnings.push(msg);
    }) as typeof logger.warn;
    recorder = createDataRecorder({
      store: data,
      protocolError: (e) => presence.recordProtocolError(e),
      logger,
    });
  });

  it('logs a gap, stores a late item that fills it, and records a reused seq as a protocol error', () => {
    const now = new Date('2026-11-27T15:00:00Z');
    recorder.record('m-1', { item: reading(1, at(1)) }, now, '<message/>');
    recorder.record('m-1', { item: reading(4, at(4)) }, now, '<message/>');
    expect(warnings).toEqual(['gap in data seq']);
    const late = recorder.record(
      'm-1',
      { item: reading(2, at(2)), delay: { stamp: at(2) } },
      now,
      '',
    );
    expect(late.status).toBe('stored');
    expect(data.readings('m-1', { limit: 9 }).map((r) => [r.seq, r.delayed])).toEqual([
      [1, false],
      [2, true],
      [4, false],
    ]);
    recorder.record('m-1', { item: reading(2, at(30)) }, now, '<message id="x"/>');
    expect(presence.protocolErrors('m-1', 9)[0]).toMatchObject({
      error: expect.stringMatching(/data seq 2 already holds a reading/),
      stanza: '<message id="x"/>',
    });
  });
});

describe('the data handler', () => {
  const component = new EventEmitter();
  let seen: string[];

  beforeEach(() => {
    component.removeAllListeners();
    seen = [];
    handleMeterData({
      xmpp: component,
      domain: DOMAIN,
      componentJid: SERVICE,
      isMeter: (id) => id === 'm-1',
      recorder: createDataRecorder({
        store: data,
        protocolError: (e) => presence.recordProtocolError(e),
        logger: silentLogger(),
      }),
      protocolError: (e) => presence.recordProtocolError(e),
      seen: (id) => seen.push(id),
      logger: silentLogger(),
    });
  });

  const deliver = (stanza: Element) => component.emit('stanza', stanza);
  const message = (item: DataItem, attrs: Record<string, string> = {}) => {
    const m = buildDataMessage({ to: SERVICE, id: `d${item.seq}`, item });
    Object.assign(m.attrs, { from: FROM }, attrs);
    return m;
  };

  it('stores data from a registered meter’s full JID, delayed ones flagged', () => {
    deliver(message(reading(1, at(1))));
    const late = buildDataMessage({
      to: SERVICE,
      id: 'd2',
      item: reading(2, at(2)),
      delay: { stamp: at(2) },
    });
    late.attrs.from = FROM;
    deliver(late);
    expect(data.readings('m-1', { limit: 9 }).map((r) => [r.seq, r.delayed])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(seen).toEqual(['m-1', 'm-1']);
  });

  it('records malformed data and data from the wrong resource or to the wrong address as protocol errors', () => {
    deliver(
      Object.assign(
        xml('message', { from: FROM, to: SERVICE }, xml('reading', { xmlns: NS_DATA, seq: 'x' })),
        {},
      ),
    );
    deliver(message(reading(1, at(1)), { from: `m-1@${DOMAIN}/laptop` }));
    deliver(message(reading(1, at(1)), { to: `feeder-1@${SERVICE}` }));
    deliver(
      xml(
        'message',
        { from: FROM, to: SERVICE },
        buildDataElement(reading(1, at(1))),
        buildDataElement(reading(2, at(2))),
      ),
    );
    const errors = presence
      .protocolErrors('m-1', 9)
      .map((e) => e.error)
      .reverse();
    expect(errors).toEqual([
      expect.stringMatching(/reading\/@ts/),
      expect.stringMatching(/resource 'laptop'/),
      expect.stringMatching(/sent to presence\.grid\.example/),
      expect.stringMatching(/found 2/),
    ]);
    expect(data.hasData('m-1')).toBe(false);
  });

  it('ignores strangers, bounces and messages without data, and never throws', () => {
    deliver(message(reading(1, at(1)), { from: `m-9@${DOMAIN}/agent` }));
    deliver(message(reading(1, at(1)), { from: `m-1@elsewhere.example/agent` }));
    deliver(message(reading(1, at(1)), { type: 'error' }));
    deliver(xml('message', { from: FROM, to: SERVICE, type: 'chat' }, xml('body', {}, 'help')));
    deliver(xml('message', {}));
    expect(data.hasData('m-1')).toBe(false);
    expect(data.hasData('m-9')).toBe(false);
    expect(presence.protocolErrors('m-1', 9)).toEqual([]);
  });
});
