import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import {
  buildMeterPresence,
  buildStatusAnswer,
  type MeterStatus,
  NS_METER,
  parseMeterPresence,
  parseStatusAnswer,
  stateFromShow,
} from '../../src/protocol/index.js';

const restricted: MeterStatus = {
  state: 'restricted',
  seq: 42,
  since: '2026-11-27T14:00:00Z',
  kind: 'revenue-meter',
  reason: { code: 'load-limit', text: 'limit 5 kW for 30 min' },
};

describe('meter presence (PROTOCOL §1)', () => {
  it('builds the example of the contract and reads it back', () => {
    const presence = buildMeterPresence(restricted);
    expect(presence.getChildText('show')).toBe('away');
    expect(presence.getChildText('status')).toBe('Restricted: limit 5 kW for 30 min');
    const meter = presence.getChild('meter', NS_METER);
    expect(meter?.attrs).toMatchObject({ state: 'restricted', seq: '42', kind: 'revenue-meter' });
    expect(meter?.getChild('reason')?.attrs.code).toBe('load-limit');
    expect(parseMeterPresence(presence)).toEqual({ kind: 'status', status: restricted });
  });

  it.each([
    ['available', undefined],
    ['active', 'chat'],
    ['restricted', 'away'],
    ['unavailable', 'dnd'],
  ] as const)('maps %s to <show>%s</show> and back', (state, show) => {
    const presence = buildMeterPresence({ ...restricted, state });
    expect(presence.getChildText('show') ?? undefined).toBe(show);
    expect(presence.attrs.type).toBeUndefined();
    expect(stateFromShow(presence.attrs.type, presence.getChildText('show') ?? undefined)).toBe(
      state,
    );
  });

  it('sends decoupled as type=unavailable with the extension', () => {
    const presence = buildMeterPresence({
      ...restricted,
      state: 'decoupled',
      reason: { code: 'shutdown' },
    });
    expect(presence.attrs.type).toBe('unavailable');
    expect(presence.getChild('show')).toBeUndefined();
    const parsed = parseMeterPresence(presence);
    expect(parsed.kind === 'status' && parsed.status.reason?.code).toBe('shutdown');
  });

  it('reads an unavailable without the extension as the server reporting a drop', () => {
    expect(parseMeterPresence(xml('presence', { type: 'unavailable' }))).toEqual({
      kind: 'server-unavailable',
    });
  });

  it.each([
    ['no extension', xml('presence', {})],
    [
      'an unknown state',
      xml(
        'presence',
        {},
        xml('meter', {
          xmlns: NS_METER,
          state: 'sleepy',
          seq: '1',
          since: '2026-11-27T14:00:00Z',
          kind: 'relay',
        }),
      ),
    ],
    [
      'a non-numeric seq',
      xml(
        'presence',
        {},
        xml('meter', {
          xmlns: NS_METER,
          state: 'available',
          seq: 'x1',
          since: '2026-11-27T14:00:00Z',
          kind: 'relay',
        }),
      ),
    ],
    [
      'seq 0',
      xml(
        'presence',
        {},
        xml('meter', {
          xmlns: NS_METER,
          state: 'available',
          seq: '0',
          since: '2026-11-27T14:00:00Z',
          kind: 'relay',
        }),
      ),
    ],
    [
      'a bad since',
      xml(
        'presence',
        {},
        xml('meter', {
          xmlns: NS_METER,
          state: 'available',
          seq: '3',
          since: 'yesterday',
          kind: 'relay',
        }),
      ),
    ],
    [
      'decoupled without type=unavailable',
      xml(
        'presence',
        {},
        xml('meter', {
          xmlns: NS_METER,
          state: 'decoupled',
          seq: '3',
          since: '2026-11-27T14:00:00Z',
          kind: 'relay',
        }),
      ),
    ],
    [
      'available inside type=unavailable',
      xml(
        'presence',
        { type: 'unavailable' },
        xml('meter', {
          xmlns: NS_METER,
          state: 'available',
          seq: '3',
          since: '2026-11-27T14:00:00Z',
          kind: 'relay',
        }),
      ),
    ],
  ])('reports %s as a protocol error', (_name, presence) => {
    const parsed = parseMeterPresence(presence);
    expect(parsed.kind).toBe('protocol-error');
    expect(parsed.kind === 'protocol-error' && parsed.error.length).toBeGreaterThan(5);
  });
});

describe('status query (PROTOCOL §3)', () => {
  it('round-trips the <meter/> inside <status/>', () => {
    const answer = buildStatusAnswer(restricted);
    expect(answer.toString()).toContain(
      '<status xmlns="urn:gridpresence:meter:1"><meter state="restricted"',
    );
    const reparsed = parseStatusAnswer(
      // as it arrives from the wire: the child has no xmlns attribute of its own
      xml(
        'status',
        { xmlns: NS_METER },
        xml('meter', {
          state: 'available',
          seq: '7',
          since: '2026-11-27T14:00:00Z',
          kind: 'gateway',
        }),
      ),
    );
    expect(reparsed).toEqual({
      ok: true,
      value: { state: 'available', seq: 7, since: '2026-11-27T14:00:00Z', kind: 'gateway' },
    });
  });

  it('rejects an answer without <meter/>', () => {
    expect(parseStatusAnswer(xml('status', { xmlns: NS_METER })).ok).toBe(false);
    expect(parseStatusAnswer(undefined).ok).toBe(false);
  });
});
