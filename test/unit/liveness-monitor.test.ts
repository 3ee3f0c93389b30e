import { beforeEach, describe, expect, it } from 'vitest';
import type { LivenessLimits } from '../../presence-service/config.js';
import {
  resolveLivenessLimits,
  worstCaseDetectionMs,
} from '../../presence-service/liveness/liveness-limits.js';
import {
  createLivenessMonitor,
  type LivenessMonitor,
} from '../../presence-service/liveness/liveness-monitor.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import {
  createPresenceRecorder,
  type PresenceRecorder,
} from '../../presence-service/presence/presence-recorder.js';
import { openDatabase } from '../../presence-service/store/database.js';
import {
  createPresenceStore,
  type PresenceStore,
} from '../../presence-service/store/presence-store.js';
import type { PingOutcome } from '../../presence-service/xmpp/meter-pinger.js';
import type { StatusQueryOutcome } from '../../presence-service/xmpp/status-querier.js';
import { silentLogger } from '../../src/log.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const LIMITS: LivenessLimits = { quietS: 7, pingTimeoutMs: 2_500, tries: 2 };
const available = (seq: number): MeterStatus => ({
  state: 'available',
  seq,
  since: '2026-11-27T12:00:00Z',
  kind: 'revenue-meter',
});

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

let clock: number;
let store: PresenceStore;
let recorder: PresenceRecorder;
let pings: string[];
let pingAnswer: (meterId: string) => Promise<PingOutcome>;
let queryAnswer: (meterId: string) => Promise<StatusQueryOutcome>;
let serverUp: boolean;
let ids: string[];
let limits: Map<string, LivenessLimits>;
let monitor: LivenessMonitor;

beforeEach(() => {
  clock = T0;
  store = createPresenceStore({ db: openDatabase(':memory:') });
  const bus = createChangeBus();
  recorder = createPresenceRecorder({ store, bus, logger: silentLogger() });
  pings = [];
  pingAnswer = async () => ({ kind: 'pong', rttMs: 1 });
  queryAnswer = async () => ({ kind: 'status', status: available(1) });
  serverUp = true;
  ids = ['m1'];
  limits = new Map();
  monitor = createLivenessMonitor({
    ping: (meterId) => {
      pings.push(meterId);
      return pingAnswer(meterId);
    },
    query: (meterId) => queryAnswer(meterId),
    recorder,
    bus,
    initialStates: () => store.allCurrent(),
    meters: () => ({ ids, limitsOf: (id) => limits.get(id) ?? LIMITS }),
    serverAnswering: async () => serverUp,
    sweepEveryMs: 1_000,
    concurrency: 2,
    logger: silentLogger(),
    now: () => clock,
  });
});

/** The meter said `available` at `clock`, then went quiet; the monitor runs and is online. */
function startWithOnlineMeters(...meterIds: string[]) {
  ids = meterIds;
  for (const id of meterIds) recorder.status(id, available(1), 'push', new Date(clock));
  monitor.start();
  monitor.setOnline(true);
}

async function sweepAt(offsetMs: number) {
  clock = T0 + offsetMs;
  monitor.sweep();
  await settle();
  await settle();
}

describe('silent-death detection', () => {
  it('leaves a meter alone while it is heard from within quietS', async () => {
    startWithOnlineMeters('m1');
    await sweepAt(6_000);
    expect(pings).toEqual([]);
    monitor.stop();
  });

  it('pings a quiet meter, and an answer is only a sign of life', async () => {
    startWithOnlineMeters('m1');
    await sweepAt(7_000);
    expect(pings).toEqual(['m1']);
    expect(store.current('m1')?.state).toBe('available');
    expect(recorder.lastSignOfLife('m1')).toBeGreaterThanOrEqual(T0 + 7_000);
    await sweepAt(8_000); // heard from a second ago: not pinged again
    expect(pings).toEqual(['m1']);
    monitor.stop();
  });

  it('records decoupled/no-response (source ping) after `tries` unanswered pings', async () => {
    pingAnswer = async () => ({ kind: 'timeout' });
    startWithOnlineMeters('m1');
    await sweepAt(7_000);
    expect(pings).toEqual(['m1', 'm1']);
    const current = store.current('m1');
    expect(current).toMatchObject({
      state: 'decoupled',
      reasonCode: 'no-response',
      source: 'ping',
    });
    const [latest] = store.history('m1', { limit: 1 });
    expect(latest).toMatchObject({ prevState: 'available', state: 'decoupled', source: 'ping' });
    monitor.stop();
  });

  it('gives no verdict when the meter showed life between the pings', async () => {
    pingAnswer = async (meterId) => {
      // a heartbeat arrives while the ping is unanswered
      recorder.status(meterId, available(1), 'push', new Date(clock + 1));
      return { kind: 'timeout' };
    };
    startWithOnlineMeters('m1');
    await sweepAt(7_000);
    expect(pings).toEqual(['m1']);
    expect(store.current('m1')?.state).toBe('available');
    monitor.stop();
  });

  it('gives no verdict when the server does not answer either (our link, not the meter)', async () => {
    pingAnswer = async () => ({ kind: 'timeout' });
    serverUp = false;
    startWithOnlineMeters('m1');
    await sweepAt(7_000);
    expect(pings).toEqual(['m1', 'm1']);
    expect(store.current('m1')?.state).toBe('available');
    monitor.stop();
  });

  it('records connection-lost (source ping) when the server says there is no session', async () => {
    pingAnswer = async () => ({ kind: 'offline', condition: 'service-unavailable' });
    startWithOnlineMeters('m1');
    await sweepAt(7_000);
    expect(store.current('m1')).toMatchObject({
      state: 'decoupled',
      reasonCode: 'connection-lost',
      source: 'ping',
    });
    monitor.stop();
  });

  it('does nothing while the component link is down, and restarts the clock when it is back', async () => {
    pingAnswer = async () => ({ kind: 'timeout' });
    startWithOnlineMeters('m1');
    monitor.setOnline(false);
    await sweepAt(60_000);
    expect(pings).toEqual([]);
    monitor.setOnline(true); // baseline is now T0 + 60 s
    await sweepAt(66_000);
    expect(pings).toEqual([]);
    await sweepAt(67_000);
    expect(pings).toEqual(['m1', 'm1']);
    monitor.stop();
  });

  it('pings a suspected meter at once', async () => {
    startWithOnlineMeters('m1');
    monitor.suspect('m1');
    await sweepAt(1_000);
    expect(pings).toEqual(['m1']);
    monitor.stop();
  });

  it('records the recovery of a silent meter with a status query after its next sign of life', async () => {
    pingAnswer = async () => ({ kind: 'timeout' });
    startWithOnlineMeters('m1');
    await sweepAt(7_000);
    expect(store.current('m1')?.reasonCode).toBe('no-response');
    queryAnswer = async () => ({ kind: 'status', status: available(1) });
    recorder.seen('m1', new Date(T0 + 20_000)); // e.g. a reading arrived
    await settle();
    const [latest] = store.history('m1', { limit: 1 });
    expect(latest).toMatchObject({ prevState: 'decoupled', state: 'available', source: 'query' });
    monitor.stop();
  });

  it('re-pings a no-response meter slowly, and its answer leads to the recovery', async () => {
    pingAnswer = async () => ({ kind: 'timeout' });
    startWithOnlineMeters('m1');
    await sweepAt(7_000);
    pings = [];
    await sweepAt(20_000);
    expect(pings).toEqual(['m1']); // the first re-check
    await sweepAt(30_000);
    expect(pings).toEqual(['m1']); // not before RECHECK_MIN_MS
    pingAnswer = async () => ({ kind: 'pong', rttMs: 1 });
    await sweepAt(50_000);
    expect(store.current('m1')).toMatchObject({ state: 'available', source: 'query' });
    monitor.stop();
  });

  it('keeps at most `concurrency` probes running, round robin', async () => {
    const waiting: Array<(o: PingOutcome) => void> = [];
    pingAnswer = () => new Promise((resolve) => waiting.push(resolve));
    startWithOnlineMeters('m1', 'm2', 'm3');
    await sweepAt(7_000);
    expect(pings).toEqual(['m1', 'm2']);
    expect(monitor.probing).toBe(2);
    for (const resolve of waiting.splice(0)) resolve({ kind: 'pong', rttMs: 1 });
    await settle();
    await sweepAt(7_500);
    expect(pings).toEqual(['m1', 'm2', 'm3']);
    monitor.stop();
  });

  it('leaves a meter known by e-mail only to its e-mail polls', async () => {
    ids = ['m1'];
    recorder.status('m1', available(1), 'email', new Date(clock));
    monitor.start();
    monitor.setOnline(true);
    await sweepAt(60_000);
    expect(pings).toEqual([]);
    monitor.stop();
  });

  it('gives a slow group its own, more lenient limits', async () => {
    pingAnswer = async () => ({ kind: 'timeout' });
    startWithOnlineMeters('m1', 'm2');
    limits.set('m2', { quietS: 60, pingTimeoutMs: 10_000, tries: 3 });
    await sweepAt(7_000);
    expect(pings).toEqual(['m1', 'm1']);
    expect(store.current('m2')?.state).toBe('available');
    monitor.stop();
  });
});

describe('liveness limits', () => {
  it('gives a meter in several groups the most lenient value of each key', () => {
    const members: Record<string, string[]> = { cellular: ['m1', 'm2'], satellite: ['m2'] };
    const { defaults, byMeter } = resolveLivenessLimits(
      {
        ...LIMITS,
        groups: { cellular: { pingTimeoutMs: 8_000 }, satellite: { quietS: 120, tries: 1 } },
      },
      (group) => members[group] ?? [],
    );
    expect(defaults).toEqual(LIMITS);
    expect(byMeter.get('m1')).toEqual({ quietS: 7, pingTimeoutMs: 8_000, tries: 2 });
    expect(byMeter.get('m2')).toEqual({ quietS: 120, pingTimeoutMs: 8_000, tries: 2 });
    expect(byMeter.has('m3')).toBe(false);
  });

  it('puts the default worst case within the 15 s target', () => {
    expect(worstCaseDetectionMs(LIMITS, 1_000)).toBe(13_000);
  });
});
