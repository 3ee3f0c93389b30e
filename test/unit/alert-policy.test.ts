import { describe, expect, it } from 'vitest';
import {
  type AlertDecision,
  type AlertPolicySettings,
  createAlertPolicy,
  type Recipient,
} from '../../presence-service/alerts/alert-policy.js';
import type { RecordedChange } from '../../presence-service/store/presence-store.js';
import type { MeterState } from '../../src/protocol/states.js';

// Issue 4 §5, the alert policy with an injected clock: which changes become alerts, flapping as
// one alert and a stable notice, dedup, the per-recipient rate limit with one summary, and
// bounded memory.

const T0 = Date.parse('2026-11-27T12:00:03.000Z');
const OPS: Recipient = { channel: 'xmpp', address: 'ops@grid.example' };
const MAIL: Recipient = { channel: 'email', address: 'duty@grid.example' };
const SETTINGS: AlertPolicySettings = {
  onRecovery: true,
  flapping: { changes: 5, windowMin: 10 },
  repeatAfterS: 300,
  maxPerMinute: 20,
};

let historyId = 0;
function change(
  meterId: string,
  prevState: MeterState | null,
  state: MeterState,
  atMs: number,
  reasonCode: string | null = null,
): RecordedChange {
  return {
    id: ++historyId,
    meterId,
    prevState,
    state,
    reasonCode,
    reasonText: null,
    seq: null,
    since: null,
    kind: null,
    receivedAt: new Date(atMs).toISOString(),
    source: 'ping',
    gap: 0,
  };
}

/** Feeds `count` alternating changes (available ↔ decoupled), one every `everyMs`. */
function flap(
  policy: ReturnType<typeof createAlertPolicy>,
  meterId: string,
  count: number,
  startMs: number,
  everyMs: number,
): AlertDecision[] {
  const alerts: AlertDecision[] = [];
  for (let i = 0; i < count; i++) {
    const [prev, next]: [MeterState, MeterState] =
      i % 2 === 0 ? ['available', 'decoupled'] : ['decoupled', 'available'];
    const at = startMs + i * everyMs;
    const reason = next === 'decoupled' ? 'no-response' : null;
    alerts.push(...policy.onChange(change(meterId, prev, next, at, reason), new Date(at)).alerts);
  }
  return alerts;
}

const at = (ms: number) => new Date(ms);

describe('alert policy', () => {
  it('raises a decoupled alert, sent to every recipient, saying what, why and when', () => {
    const policy = createAlertPolicy(SETTINGS, [OPS, MAIL]);
    const { alerts } = policy.onChange(
      change('mtr-0007', 'available', 'decoupled', T0, 'no-response'),
      at(T0),
    );
    expect(alerts).toEqual([
      expect.objectContaining({
        meterId: 'mtr-0007',
        kind: 'decoupled',
        state: 'decoupled',
        reasonCode: 'no-response',
        text: 'mtr-0007 decoupled (no-response) at 2026-11-27T12:00:03Z',
        delivery: 'sent',
        to: [OPS, MAIL],
      }),
    ]);
  });

  it('raises nothing for a first sighting or a change between coupled states', () => {
    const policy = createAlertPolicy(SETTINGS, [OPS]);
    const changes = [
      change('mtr-0001', null, 'decoupled', T0, 'connection-lost'),
      change('mtr-0002', null, 'available', T0),
      change('mtr-0003', 'available', 'restricted', T0, 'load-limit'),
      change('mtr-0004', 'decoupled', 'decoupled', T0, 'shutdown'),
    ];
    for (const c of changes) expect(policy.onChange(c, at(T0)).alerts).toEqual([]);
  });

  it('raises a recovery alert when a decoupled meter comes back, unless onRecovery is off', () => {
    const back = change('mtr-0007', 'decoupled', 'restricted', T0, 'on-battery');
    const [alert] = createAlertPolicy(SETTINGS, [OPS]).onChange(back, at(T0)).alerts;
    expect(alert).toMatchObject({
      kind: 'recovered',
      delivery: 'sent',
      text: 'mtr-0007 recovered: restricted (on-battery) at 2026-11-27T12:00:03Z',
    });
    const quiet = createAlertPolicy({ ...SETTINGS, onRecovery: false }, [OPS]);
    expect(quiet.onChange(back, at(T0)).alerts).toEqual([]);
  });

  it('turns 20 changes in a minute into exactly one flapping alert, after a bounded few', () => {
    const policy = createAlertPolicy(SETTINGS, [OPS]);
    const alerts = flap(policy, 'mtr-0007', 20, T0, 3_000);
    const sent = alerts.filter((a) => a.delivery === 'sent');
    expect(sent.map((a) => a.kind)).toEqual(['decoupled', 'recovered', 'flapping']);
    expect(alerts.filter((a) => a.kind === 'flapping')).toHaveLength(1);
    // The sixth change (more than 5) raised it; everything after is folded into it, not sent.
    const flappingAt = alerts.findIndex((a) => a.kind === 'flapping');
    expect(flappingAt).toBe(5);
    expect(alerts[flappingAt]?.text).toBe(
      'mtr-0007 flapping: 6 state changes within 10 min, now available at ' +
        '2026-11-27T12:00:18Z; no more alerts for it until it is stable',
    );
    expect(new Set(alerts.slice(flappingAt + 1).map((a) => a.delivery))).toEqual(
      new Set(['flapping']),
    );
    // Before the threshold the repeats were duplicates: every change is still on record.
    expect(alerts.slice(0, flappingAt).map((a) => a.delivery)).toEqual([
      'sent',
      'sent',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
  });

  it('without dedup still sends at most `changes` individual alerts before the flapping one', () => {
    const policy = createAlertPolicy({ ...SETTINGS, repeatAfterS: 0 }, [OPS]);
    const sent = flap(policy, 'mtr-0007', 20, T0, 1_000).filter((a) => a.delivery === 'sent');
    expect(sent).toHaveLength(SETTINGS.flapping.changes + 1);
    expect(sent.at(-1)?.kind).toBe('flapping');
  });

  it('does not call changes spread wider than the window flapping', () => {
    const policy = createAlertPolicy({ ...SETTINGS, repeatAfterS: 0 }, [OPS]);
    // 20 changes, one every 2.5 minutes: never more than 4 within 10 minutes.
    const alerts = flap(policy, 'mtr-0007', 20, T0, 150_000);
    expect(alerts.filter((a) => a.kind === 'flapping')).toEqual([]);
    expect(alerts.every((a) => a.delivery === 'sent')).toBe(true);
  });

  it('says once that a flapping meter is stable again after a quiet window, with its state', () => {
    const policy = createAlertPolicy({ ...SETTINGS, repeatAfterS: 0 }, [OPS]);
    flap(policy, 'mtr-0007', 7, T0, 1_000); // ends decoupled at T0 + 6 s
    const last = T0 + 6_000;
    const window = SETTINGS.flapping.windowMin * 60_000;
    expect(policy.tick(at(last + window - 1)).notices).toEqual([]);
    expect(policy.tick(at(last + window)).notices).toEqual([
      {
        kind: 'stable',
        meterId: 'mtr-0007',
        text:
          'STABLE: mtr-0007 has not changed state for 10 min: decoupled (no-response) since ' +
          '2026-11-27T12:00:09Z.',
        to: [OPS],
      },
    ]);
    expect(policy.tick(at(last + window + 5_000)).notices).toEqual([]);
    // Calm again: its next change is an ordinary alert.
    const back = change('mtr-0007', 'decoupled', 'available', last + window + 10_000);
    expect(policy.onChange(back, at(last + window + 10_000)).alerts).toMatchObject([
      { kind: 'recovered', delivery: 'sent' },
    ]);
  });

  it('ends a flapping episode quiet for the window on the next change, even before a tick', () => {
    const policy = createAlertPolicy({ ...SETTINGS, repeatAfterS: 0 }, [OPS]);
    flap(policy, 'mtr-0007', 7, T0, 1_000); // ends decoupled at T0 + 6 s
    const t = T0 + 6_000 + SETTINGS.flapping.windowMin * 60_000;
    const out = policy.onChange(change('mtr-0007', 'decoupled', 'available', t), at(t));
    expect(out.notices.map((n) => [n.kind, n.meterId])).toEqual([['stable', 'mtr-0007']]);
    expect(out.alerts).toMatchObject([{ kind: 'recovered', delivery: 'sent' }]);
  });

  it('does not send the same meter and kind again within repeatAfterS', () => {
    const policy = createAlertPolicy(SETTINGS, [OPS]);
    const raise = (meterId: string, offsetS: number, prev: MeterState, next: MeterState) => {
      const t = T0 + offsetS * 1000;
      return policy.onChange(change(meterId, prev, next, t), at(t)).alerts[0]?.delivery;
    };
    expect([
      raise('mtr-0008', 0, 'available', 'decoupled'),
      raise('mtr-0008', 299, 'available', 'decoupled'),
      raise('mtr-0008', 300, 'available', 'decoupled'),
    ]).toEqual(['sent', 'duplicate', 'sent']);
    // Another meter, or another kind for the same meter, is not a duplicate.
    expect(raise('mtr-0009', 301, 'available', 'decoupled')).toBe('sent');
    expect(raise('mtr-0008', 302, 'decoupled', 'available')).toBe('sent');
  });

  it('holds back what exceeds maxPerMinute per recipient, then sends ONE summary each', () => {
    const policy = createAlertPolicy({ ...SETTINGS, maxPerMinute: 3 }, [OPS, MAIL]);
    const feeder = Array.from({ length: 10 }, (_, i) => `mtr-${String(i + 1).padStart(4, '0')}`);
    const alerts = feeder.flatMap(
      (id) =>
        policy.onChange(change(id, 'available', 'decoupled', T0, 'no-response'), at(T0)).alerts,
    );
    expect(alerts.map((a) => a.delivery)).toEqual([
      ...Array(3).fill('sent'),
      ...Array(7).fill('rate-limited'),
    ]);
    expect(alerts.filter((a) => a.to.length > 0)).toHaveLength(3);
    // No room within the minute: no summary yet, and none for every later alert either.
    expect(policy.tick(at(T0 + 59_999)).notices).toEqual([]);
    const summaries = policy.tick(at(T0 + 60_000)).notices;
    expect(summaries).toEqual(
      [OPS, MAIL].map((recipient) => ({
        kind: 'held-back',
        text:
          'HELD BACK: 7 alerts since 2026-11-27T12:00:03Z (limit 3 messages a minute). ' +
          'Send "alerts" for the open ones, or GET /api/alerts?open=true.',
        to: [recipient],
      })),
    );
    expect(policy.tick(at(T0 + 61_000)).notices).toEqual([]);
    // The summary took one of the three places of the new minute.
    const late = feeder.map((id, i) => {
      const t = T0 + 62_000 + i;
      return policy.onChange(change(id, 'decoupled', 'available', t), at(t)).alerts[0]?.delivery;
    });
    expect(late.filter((d) => d === 'sent')).toHaveLength(2);
  });

  it('sends the summary before a new alert once there is room', () => {
    const policy = createAlertPolicy({ ...SETTINGS, maxPerMinute: 1 }, [OPS]);
    policy.onChange(change('mtr-0001', 'available', 'decoupled', T0), at(T0));
    policy.onChange(change('mtr-0002', 'available', 'decoupled', T0), at(T0));
    const t = T0 + 60_000;
    const out = policy.onChange(change('mtr-0003', 'available', 'decoupled', t), at(t));
    expect(out.notices.map((n) => n.kind)).toEqual(['held-back']);
    expect(out.notices[0]?.text).toMatch(/^HELD BACK: 1 alert since /);
    expect(out.alerts.map((a) => a.delivery)).toEqual(['rate-limited']);
  });

  it('raises alerts with no recipient configured, for the API', () => {
    const policy = createAlertPolicy(SETTINGS, []);
    const { alerts } = policy.onChange(change('mtr-0001', 'available', 'decoupled', T0), at(T0));
    expect(alerts).toMatchObject([{ delivery: 'sent', to: [] }]);
  });

  it('forgets meters, dedup keys and send times once they are old: memory stays bounded', () => {
    const policy = createAlertPolicy(SETTINGS, [OPS]);
    for (let i = 0; i < 5_000; i++) {
      const id = `mtr-${i}`;
      policy.onChange(change(id, 'available', 'decoupled', T0), at(T0));
      policy.onChange(change(id, 'decoupled', 'available', T0 + 1), at(T0 + 1));
    }
    // One meter flapping hard keeps at most changes + 1 times, however long it flaps.
    flap(policy, 'mtr-hot', 1_000, T0, 100);
    expect(policy.size()).toEqual({
      meters: 5_001,
      changeTimes: 2 * 5_000 + SETTINGS.flapping.changes + 1,
      dedupKeys: 2 * 5_000 + 3,
      sendTimes: SETTINGS.maxPerMinute,
    });
    const later = T0 + 100_000 + SETTINGS.flapping.windowMin * 60_000;
    // The tick sends mtr-hot's stable notice: the one send it still remembers for a minute.
    expect(policy.tick(at(later)).notices.map((n) => n.kind)).toEqual(['stable']);
    expect(policy.size()).toEqual({ meters: 0, changeTimes: 0, dedupKeys: 0, sendTimes: 1 });
    policy.tick(at(later + 60_000));
    expect(policy.size()).toEqual({ meters: 0, changeTimes: 0, dedupKeys: 0, sendTimes: 0 });
  });
});
