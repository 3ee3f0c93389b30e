import xml, { type Element, Parser } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import {
  type AuditItem,
  buildDataElement,
  buildDataMessage,
  type DataItem,
  type EventItem,
  isDataMessage,
  NS_DATA,
  NS_DELAY,
  parseDataElement,
  parseDataMessage,
  type ReadingItem,
  validateDataItem,
} from '../../src/protocol/index.js';

const reading: ReadingItem = {
  kind: 'reading',
  ts: '2026-11-27T14:00:00Z',
  seq: 9812,
  values: [
    { id: '1-0:1.8.0', value: '12345.678', unit: 'kWh' },
    { id: '1-0:32.7.0', value: '231.4', unit: 'V' },
    { id: '1-0:32.32.0', value: '3', unit: '' },
    { id: '0-0:96.1.1', value: 'mtr-000123', unit: '' },
  ],
};

const sag: EventItem = {
  kind: 'event',
  ts: '2026-11-27T14:00:01.250Z',
  seq: 9813,
  type: 'sag',
  phase: 'L1',
  magnitude: 0.82,
  durationMs: 120,
};

const audit: AuditItem = {
  kind: 'audit',
  ts: '2026-11-27T14:00:02.000Z',
  seq: 9814,
  from: 'alice@grid.example/laptop',
  via: 'adhoc',
  command: 'relay',
  args: { action: ['open'], confirm: ['true'], registers: ['1-0:1.8.0', '1-0:2.8.0'] },
  outcome: 'refused',
  condition: 'forbidden',
  detail: 'alice@grid.example is a viewer; relay needs operator <&> "quotes"',
};

/** Through text and back, as the other side of the wire sees it (children inherit xmlns). */
function reparse(element: Element): Element {
  const parser = new Parser();
  let parsed: Element | undefined;
  parser.on('element', (child: Element) => {
    parsed ??= child;
  });
  parser.write(`<wire>${element.toString()}</wire>`);
  if (!parsed) throw new Error(`did not parse: ${element.toString()}`);
  return parsed;
}

describe('data elements (PROTOCOL §6)', () => {
  it('builds the reading of the contract and reads it back', () => {
    const element = buildDataElement(reading);
    expect(element.name).toBe('reading');
    expect(element.attrs).toMatchObject({ xmlns: NS_DATA, ts: reading.ts, seq: '9812' });
    expect(element.getChildren('v')[0]?.attrs).toEqual({
      id: '1-0:1.8.0',
      value: '12345.678',
      unit: 'kWh',
    });
    expect(parseDataElement(reparse(element))).toEqual({ ok: true, value: reading });
  });

  it('carries the dropped count of a reading (our extension)', () => {
    const element = buildDataElement({ ...reading, dropped: 7 });
    expect(element.attrs.dropped).toBe('7');
    expect(parseDataElement(reparse(element))).toEqual({
      ok: true,
      value: { ...reading, dropped: 7 },
    });
  });

  it('builds the event of the contract, duration-ms and all, and reads it back', () => {
    const element = buildDataElement(sag);
    expect(element.attrs).toMatchObject({
      type: 'sag',
      phase: 'L1',
      magnitude: '0.82',
      'duration-ms': '120',
    });
    expect(parseDataElement(reparse(element))).toEqual({ ok: true, value: sag });
    const relay: EventItem = { kind: 'event', ts: sag.ts, seq: 2, type: 'relay', detail: 'open' };
    expect(parseDataElement(reparse(buildDataElement(relay)))).toEqual({ ok: true, value: relay });
  });

  it('builds the audit report with <arg/> per value and the detail text, and reads it back', () => {
    const element = buildDataElement(audit);
    expect(element.getChildren('arg').map((a) => [a.attrs.name, a.getText()])).toEqual([
      ['action', 'open'],
      ['confirm', 'true'],
      ['registers', '1-0:1.8.0'],
      ['registers', '1-0:2.8.0'],
    ]);
    expect(element.getChildText('detail')).toBe(audit.detail);
    expect(parseDataElement(reparse(element))).toEqual({ ok: true, value: audit });
    const minimal: AuditItem = { ...audit, args: {}, outcome: 'ok', detail: '' };
    delete minimal.condition;
    expect(parseDataElement(reparse(buildDataElement(minimal)))).toEqual({
      ok: true,
      value: minimal,
    });
  });

  it('validates plain objects with the same rules (the outbox reads them back)', () => {
    for (const item of [reading, sag, audit] as DataItem[]) {
      expect(validateDataItem(JSON.parse(JSON.stringify(item)))).toEqual({ ok: true, value: item });
    }
    expect(validateDataItem({ ...sag, seq: 0 })).toMatchObject({ ok: false });
  });

  it.each([
    [
      'a missing seq',
      xml(
        'reading',
        { xmlns: NS_DATA, ts: reading.ts },
        xml('v', { id: '1-0:1.8.0', value: '1', unit: 'kWh' }),
      ),
      /@seq/,
    ],
    ['a seq of 0', xml('event', { xmlns: NS_DATA, ts: sag.ts, seq: '0', type: 'sag' }), /@seq/],
    [
      'a seq that is no number',
      xml('event', { xmlns: NS_DATA, ts: sag.ts, seq: '1e3', type: 'sag' }),
      /@seq/,
    ],
    ['a bad ts', xml('event', { xmlns: NS_DATA, ts: 'yesterday', seq: '1', type: 'sag' }), /@ts/],
    [
      'a 30th of February',
      xml('event', { xmlns: NS_DATA, ts: '2026-02-30T00:00:00Z', seq: '1', type: 'sag' }),
      /@ts: must be a real instant/,
    ],
    [
      'a 13th month',
      xml('event', { xmlns: NS_DATA, ts: '2026-13-01T00:00:00Z', seq: '1', type: 'sag' }),
      /@ts/,
    ],
    [
      'an unknown event type',
      xml('event', { xmlns: NS_DATA, ts: sag.ts, seq: '1', type: 'meteor' }),
      /@type/,
    ],
    [
      'a bad phase',
      xml('event', { xmlns: NS_DATA, ts: sag.ts, seq: '1', type: 'sag', phase: 'L4' }),
      /@phase/,
    ],
    [
      'a magnitude in words',
      xml('event', { xmlns: NS_DATA, ts: sag.ts, seq: '1', type: 'sag', magnitude: 'low' }),
      /@magnitude/,
    ],
    [
      'a negative duration',
      xml('event', { xmlns: NS_DATA, ts: sag.ts, seq: '1', type: 'sag', 'duration-ms': '-5' }),
      /@duration-ms/,
    ],
    [
      'a reading without values',
      xml('reading', { xmlns: NS_DATA, ts: reading.ts, seq: '1' }),
      /reading\/v: /,
    ],
    [
      'a register that is no OBIS id',
      xml(
        'reading',
        { xmlns: NS_DATA, ts: reading.ts, seq: '1' },
        xml('v', { id: 'energy', value: '1', unit: 'kWh' }),
      ),
      /reading\/v\[1\]\/@id: must be an OBIS id/,
    ],
    [
      'a register twice',
      xml(
        'reading',
        { xmlns: NS_DATA, ts: reading.ts, seq: '1' },
        xml('v', { id: '1-0:1.8.0', value: '1', unit: 'kWh' }),
        xml('v', { id: '1-0:1.8.0', value: '2', unit: 'kWh' }),
      ),
      /repeats/,
    ],
    [
      'a value missing',
      xml(
        'reading',
        { xmlns: NS_DATA, ts: reading.ts, seq: '1' },
        xml('v', { id: '1-0:1.8.0', unit: 'kWh' }),
      ),
      /value/,
    ],
    [
      'an unknown audit outcome',
      xml('audit', {
        xmlns: NS_DATA,
        ts: audit.ts,
        seq: '1',
        from: 'a@b',
        via: 'chat',
        command: 'read',
        outcome: 'maybe',
      }),
      /@outcome/,
    ],
    [
      'an arg without a name',
      xml(
        'audit',
        {
          xmlns: NS_DATA,
          ts: audit.ts,
          seq: '1',
          from: 'a@b',
          via: 'chat',
          command: 'read',
          outcome: 'ok',
        },
        xml('arg', {}, 'x'),
      ),
      /name/,
    ],
    [
      'an unknown element',
      xml('forecast', { xmlns: NS_DATA, ts: audit.ts, seq: '1' }),
      /unknown data element/,
    ],
    [
      'another namespace',
      xml('reading', { xmlns: 'urn:example', ts: audit.ts, seq: '1' }),
      /expected an element/,
    ],
  ])('rejects %s without throwing', (_name, element, error) => {
    const parsed = parseDataElement(reparse(element));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
});

describe('data messages', () => {
  it('is a normal message without a body, to the service, with one data element', () => {
    const message = buildDataMessage({ to: 'presence.grid.example', id: 'd9812', item: reading });
    expect(message.attrs).toEqual({ type: 'normal', to: 'presence.grid.example', id: 'd9812' });
    expect(message.getChild('body')).toBeUndefined();
    expect(message.getChild('delay', NS_DELAY)).toBeUndefined();
    expect(isDataMessage(message)).toBe(true);
    expect(parseDataMessage(reparse(message))).toEqual({ ok: true, value: { item: reading } });
  });

  it('writes and reads XEP-0203 <delay/> with the original ts', () => {
    const message = buildDataMessage({
      to: 'presence.grid.example',
      id: 'd9813',
      item: sag,
      delay: { stamp: sag.ts },
    });
    expect(message.getChild('delay', NS_DELAY)?.attrs.stamp).toBe(sag.ts);
    expect(parseDataMessage(reparse(message))).toEqual({
      ok: true,
      value: { item: sag, delay: { stamp: sag.ts } },
    });
    // as xmpp.js adds it to a stanza it resends after an XEP-0198 resumption
    message.getChild('delay', NS_DELAY)?.attr('from', 'mtr-1@grid.example/agent');
    expect(parseDataMessage(reparse(message))).toMatchObject({
      ok: true,
      value: { delay: { stamp: sag.ts, from: 'mtr-1@grid.example/agent' } },
    });
  });

  it('is not a data message without a data element', () => {
    expect(isDataMessage(xml('message', { type: 'chat' }, xml('body', {}, 'help')))).toBe(false);
    expect(isDataMessage(xml('presence', {}, buildDataElement(reading)))).toBe(false);
  });

  it.each([
    [
      'two data elements',
      xml('message', { to: 's' }, buildDataElement(reading), buildDataElement(sag)),
      /found 2/,
    ],
    ['a chat type', xml('message', { type: 'chat' }, buildDataElement(reading)), /type='normal'/],
    ['a body', xml('message', {}, xml('body', {}, 'hi'), buildDataElement(reading)), /body/],
    [
      'a bad delay stamp',
      xml(
        'message',
        {},
        buildDataElement(reading),
        xml('delay', { xmlns: NS_DELAY, stamp: 'soon' }),
      ),
      /delay/,
    ],
    [
      'a bad payload',
      xml('message', {}, xml('reading', { xmlns: NS_DATA, ts: 'x', seq: '1' })),
      /@ts/,
    ],
  ])('rejects a message with %s', (_name, message, error) => {
    const parsed = parseDataMessage(reparse(message));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });

  it('accepts a message without a type (normal is the default, RFC 6121 §5.2.2)', () => {
    const message = xml('message', { to: 's' }, buildDataElement(sag));
    expect(parseDataMessage(reparse(message))).toEqual({ ok: true, value: { item: sag } });
  });
});
