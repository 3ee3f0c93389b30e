import { beforeEach, describe, expect, it } from 'vitest';
import {
  createPollRunner,
  type EmailPollOutcome,
  type PollRunner,
} from '../../presence-service/polling/poll-runner.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import {
  createPresenceRecorder,
  type PresenceRecorder,
} from '../../presence-service/presence/presence-recorder.js';
import { openDatabase } from '../../presence-service/store/database.js';
import { createPollStore, type PollStore } from '../../presence-service/store/poll-store.js';
import {
  createPresenceStore,
  type PresenceStore,
} from '../../presence-service/store/presence-store.js';
import type { LastActivityOutcome } from '../../presence-service/xmpp/last-activity-querier.js';
import type { PingOutcome } from '../../presence-service/xmpp/meter-pinger.js';
import type { StatusQueryOutcome } from '../../presence-service/xmpp/status-querier.js';
import { silentLogger } from '../../src/log.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';

// What each poll's answer records (docs/liveness.md "Polling"), with the real recorder on a real
// in-memory store and fake XMPP queries that answer what each test says.

const M = 'mtr-0001';
const since = '2026-11-27T12:00:00Z';
const status = (seq: number, state: MeterStatus['state'] = 'available'): MeterStatus => ({
  state,
  seq,
  since,
  kind: 'revenue-meter',
});

let store: PresenceStore;
let pollStore: PollStore;
let recorder: PresenceRecorder;
let runner: PollRunner;
let clockMs: number;
let suspected: string[];
let asked: Array<{ what: string; meterId: string; timeoutMs: number }>;
let answers: {
  query: () => StatusQueryOutcome;
  ping: () => PingOutcome;
  last: () => LastActivityOutcome;
  email: () => EmailPollOutcome;
};
/** Runs while a query is being answered, e.g. a presence that overtakes the answer. */
let duringQuery: () => void;

const now = () => new Date(clockMs);
/** One poll, a minute after the last one (as a schedule would). */
const run: PollRunner = (kind, meterId, timeoutMs) => {
  clockMs += 60_000;
  return runner(kind, meterId, timeoutMs);
};
const history = () => store.history(M, { limit: 100 });

beforeEach(() => {
  const db = openDatabase(':memory:');
  store = createPresenceStore({ db });
  pollStore = createPollStore({ db });
  recorder = createPresenceRecorder({ store, bus: createChangeBus(), logger: silentLogger() });
  clockMs = Date.parse('2026-11-27T13:00:00Z');
  suspected = [];
  asked = [];
  duringQuery = () => {};
  answers = {
    query: () => ({ kind: 'status', status: status(1) }),
    ping: () => ({ kind: 'pong', rttMs: 3 }),
    last: () => ({ kind: 'last', idleS: 90, statusText: 'Decoupled: shutdown' }),
    email: () => 'sent',
  };
  const answering =
    <T>(what: string, answer: () => T) =>
    async (meterId: string, timeoutMs: number) => {
      asked.push({ what, meterId, timeoutMs });
      duringQuery();
      clockMs += 2_000; // every answer takes 2 s
      return answer();
    };
  runner = createPollRunner({
    query: answering('status', () => answers.query()),
    ping: answering('ping', () => answers.ping()),
    lastActivity: answering('last', () => answers.last()),
    emailPoll: async (meterId) => {
      asked.push({ what: 'email', meterId, timeoutMs: 0 });
      return answers.email();
    },
    recorder,
    currentState: (meterId) => store.current(meterId)?.state,
    pollStore,
    suspect: (meterId) => suspected.push(meterId),
    logger: silentLogger(),
    now,
  });
});

describe('status poll (PROTOCOL §3)', () => {
  it("records a new answer with source 'query' (changed), a repeat as a sign of life (ok)", async () => {
    expect(await run('status', M, 4_000)).toBe('changed');
    expect(asked).toEqual([{ what: 'status', meterId: M, timeoutMs: 4_000 }]);
    expect(history()).toMatchObject([{ state: 'available', seq: 1, source: 'query' }]);
    expect(await run('status', M, 4_000)).toBe('ok');
    expect(history()).toHaveLength(1);
    expect(store.current(M)?.lastSeenAt).toBe(now().toISOString());
  });

  it("records an offline answer as decoupled/connection-lost with source 'query'", async () => {
    await run('status', M, 4_000);
    answers.query = () => ({ kind: 'offline', condition: 'service-unavailable' });
    expect(await run('status', M, 4_000)).toBe('offline');
    expect(store.current(M)).toMatchObject({
      state: 'decoupled',
      reasonCode: 'connection-lost',
      source: 'query',
    });
  });

  it('ignores an offline answer overtaken by a sign of life heard after asking', async () => {
    await run('status', M, 4_000);
    answers.query = () => ({ kind: 'offline', condition: 'service-unavailable' });
    duringQuery = () => recorder.seen(M, new Date(clockMs + 1_000));
    expect(await run('status', M, 4_000)).toBe('offline');
    expect(store.current(M)?.state).toBe('available');
  });

  it('hands a meter that does not answer to silent-death detection, and records nothing', async () => {
    await run('status', M, 4_000);
    answers.query = () => ({ kind: 'timeout' });
    expect(await run('status', M, 4_000)).toBe('timeout');
    expect(suspected).toEqual([M]);
    expect(history()).toHaveLength(1);
    expect(store.current(M)?.state).toBe('available');
  });

  it('counts an error without a verdict', async () => {
    answers.query = () => ({ kind: 'error', error: 'expected <status/>' });
    expect(await run('status', M, 4_000)).toBe('error');
    expect(suspected).toEqual([]);
    expect(store.current(M)).toBeUndefined();
  });
});

describe('ping poll (XEP-0199)', () => {
  beforeEach(async () => {
    await run('status', M, 4_000);
  });

  it('takes a pong, or an error reply, as a sign of life', async () => {
    expect(await run('ping', M, 1_000)).toBe('ok');
    expect(recorder.lastSignOfLife(M)).toBe(clockMs);
    answers.ping = () => ({ kind: 'error', error: 'feature-not-implemented' });
    expect(await run('ping', M, 1_000)).toBe('ok');
    expect(recorder.lastSignOfLife(M)).toBe(clockMs);
    expect(history()).toHaveLength(1);
  });

  it("records an offline answer as decoupled/connection-lost with source 'ping'", async () => {
    answers.ping = () => ({ kind: 'offline', condition: 'service-unavailable' });
    expect(await run('ping', M, 1_000)).toBe('offline');
    expect(store.current(M)).toMatchObject({
      state: 'decoupled',
      reasonCode: 'connection-lost',
      source: 'ping',
    });
  });

  it('suspects a meter that does not answer, without declaring it dead', async () => {
    answers.ping = () => ({ kind: 'timeout' });
    const before = recorder.lastSignOfLife(M);
    expect(await run('ping', M, 1_000)).toBe('timeout');
    expect(suspected).toEqual([M]);
    expect(store.current(M)?.state).toBe('available');
    expect(recorder.lastSignOfLife(M)).toBe(before);
  });
});

describe('last-activity poll (XEP-0012)', () => {
  const decouple = () => recorder.gone(M, 'shutdown', 'push', now());

  it('asks only about decoupled meters', async () => {
    expect(await run('last-activity', M, 3_000)).toBe('skipped'); // never heard of
    await run('status', M, 3_000);
    asked.length = 0;
    expect(await run('last-activity', M, 3_000)).toBe('skipped'); // available
    expect(asked).toEqual([]);
    expect(pollStore.lastActivity(M)).toBeUndefined();
  });

  it('stores the idle seconds, the moment they point to and the status text', async () => {
    decouple();
    const askedAt = new Date(clockMs + 60_000).toISOString(); // run() moves on a minute
    expect(await run('last-activity', M, 3_000)).toBe('ok');
    expect(pollStore.lastActivity(M)).toEqual({
      meterId: M,
      idleS: 90,
      lastActiveAt: new Date(Date.parse(askedAt) - 90_000).toISOString(),
      statusText: 'Decoupled: shutdown',
      askedAt,
    });
    expect(history()).toHaveLength(1); // no state change
  });

  it('keeps the last answer when the server knows nothing (Prosody after a restart: 0 s, no text)', async () => {
    decouple();
    await run('last-activity', M, 3_000);
    const kept = pollStore.lastActivity(M);
    answers.last = () => ({ kind: 'last', idleS: 0, statusText: null });
    expect(await run('last-activity', M, 3_000)).toBe('ok');
    expect(pollStore.lastActivity(M)).toEqual(kept);
    // A logout without a status text, seconds ago, is stored.
    answers.last = () => ({ kind: 'last', idleS: 4, statusText: null });
    await run('last-activity', M, 3_000);
    expect(pollStore.lastActivity(M)).toMatchObject({ idleS: 4, statusText: null });
  });

  it('counts a refusal as an error and a slow server as a timeout, suspecting nobody', async () => {
    decouple();
    answers.last = () => ({ kind: 'error', error: 'forbidden' });
    expect(await run('last-activity', M, 3_000)).toBe('error');
    answers.last = () => ({ kind: 'offline', condition: 'service-unavailable' });
    expect(await run('last-activity', M, 3_000)).toBe('error');
    answers.last = () => ({ kind: 'timeout' });
    expect(await run('last-activity', M, 3_000)).toBe('timeout');
    expect(suspected).toEqual([]);
    expect(pollStore.lastActivity(M)).toBeUndefined();
  });
});

describe('e-mail poll', () => {
  it('is ok when sent, skipped without an address, an error when sending failed', async () => {
    expect(await run('email', M, 10_000)).toBe('ok');
    answers.email = () => 'no-address';
    expect(await run('email', M, 10_000)).toBe('skipped');
    answers.email = () => 'failed';
    expect(await run('email', M, 10_000)).toBe('error');
    expect(asked.map((a) => a.what)).toEqual(['email', 'email', 'email']);
    expect(history()).toEqual([]); // the answer comes by mail and is recorded there
  });

  it('is an error when e-mail is not configured', async () => {
    const withoutEmail = createPollRunner({
      query: async () => ({ kind: 'timeout' }),
      ping: async () => ({ kind: 'timeout' }),
      lastActivity: async () => ({ kind: 'timeout' }),
      recorder,
      currentState: () => undefined,
      pollStore,
      suspect: () => {},
      logger: silentLogger(),
    });
    expect(await withoutEmail('email', M, 10_000)).toBe('error');
  });
});

it('turns a poll that throws into an error for that meter', async () => {
  answers.query = () => {
    throw new Error('database is closed');
  };
  expect(await run('status', M, 4_000)).toBe('error');
});
