import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import { MINIMUM_REGISTER_IDS } from '../../meter-agent/meter/obis.js';
import { replayOutbox } from '../../meter-agent/telemetry/outbox-file.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { getJson, waitForRecordedState } from './helpers/api.js';
import { startTestStack } from './helpers/test-stack.js';

// Telemetry end to end (PROTOCOL §6): real Prosody, real agents with a 1 s reporting interval,
// the real service. Readings and events reach the API; across a lost XMPP server and a lost
// service, the outbox delivers every item exactly once, in order, late ones flagged delayed.

interface Item {
  seq: number;
  ts: string;
  delayed: boolean;
}
interface Reading extends Item {
  dropped: number;
  values: Array<{ id: string; value: string; unit: string }>;
}

let stack: Stack;
const meters = ['mtr-0001', 'mtr-0002'];

const agentDir = (id: string) => stack.agents.get(id)?.dataDir as string;

const readings = async (id: string) =>
  (
    await getJson<{ readings: Reading[] }>(
      stack,
      `/api/meters/${id}/readings?since=2000-01-01T00:00:00Z&limit=10000`,
    )
  ).readings;
const events = async (id: string) =>
  (
    await getJson<{ events: Array<Item & { type: string }> }>(
      stack,
      `/api/meters/${id}/events?since=2000-01-01T00:00:00Z&limit=10000`,
    )
  ).events;

/** Every data seq the service holds for the meter, readings and events together, sorted. */
async function allSeqs(id: string): Promise<number[]> {
  const seqs = [...(await readings(id)), ...(await events(id))].map((i) => i.seq);
  return seqs.sort((a, b) => a - b);
}

/** What the agent still holds unacknowledged in its outbox file. */
function outboxItems(id: string): number {
  const text = readFileSync(join(agentDir(id), 'outbox.jsonl'), 'utf8');
  return replayOutbox(text).state.entries.size;
}

function expectContiguous(seqs: number[]): void {
  expect(seqs[0]).toBe(1);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stack = await startTestStack(meters.length);
  for (const id of meters) {
    const file = stack.agents.get(id)?.configFile as string;
    const config = JSON.parse(readFileSync(file, 'utf8'));
    config.telemetry = { ...config.telemetry, intervalS: 1 };
    writeFileSync(file, JSON.stringify(config, null, 2));
    stack.startAgent(id);
  }
  await Promise.all(meters.map((id) => waitForRecordedState(stack, id, 'available')));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('readings and events (PROTOCOL §6)', () => {
  it('records a reading every interval with the minimum register set', async () => {
    const id = 'mtr-0001';
    const got = await waitFor(
      'three readings',
      async () => {
        const list = await readings(id);
        return list.length >= 3 ? list : undefined;
      },
      10_000,
      100,
    );
    expect(got[0]?.values.map((v) => v.id)).toEqual(
      expect.arrayContaining([...MINIMUM_REGISTER_IDS]),
    );
    expect(got[0]?.values.find((v) => v.id === '0-0:96.1.1')?.value).toBe(id);
    expect(got.every((r) => !r.delayed && r.dropped === 0)).toBe(true);
    // about one a second
    const spanMs = Date.parse(got[2]?.ts as string) - Date.parse(got[0]?.ts as string);
    expect(spanMs).toBeGreaterThan(1500);
    expect(spanMs).toBeLessThan(6000); // generous: timers run late on a loaded machine
    expectContiguous(await allSeqs(id));
  });

  it('records an injected sag at once, not with the next reading', async () => {
    const id = 'mtr-0002';
    const before = (await events(id)).length;
    const { atMs } = (await controlRequest(agentDir(id), { op: 'inject', name: 'sag' })) as {
      atMs: number;
    };
    const sag = await waitFor(
      'the sag to be recorded',
      async () => (await events(id))[before],
      5_000,
      10,
    );
    const latencyMs = Date.now() - atMs;
    expect(sag).toMatchObject({ type: 'sag', delayed: false });
    // A reading comes every 1000 ms; the event must not wait for it (polling adds up to ~20 ms).
    expect(latencyMs).toBeLessThan(500);
    expectContiguous(await allSeqs(id));
  });
});

describe('a lost connection', () => {
  it('delivers every reading made while the XMPP server was gone, in order, once, late ones delayed', async () => {
    const lastBefore = new Map(
      await Promise.all(meters.map(async (id) => [id, (await allSeqs(id)).at(-1) ?? 0] as const)),
    );
    // Frozen first: the agents keep sending into a socket nobody reads (in flight, never
    // acknowledged), then the server dies, and they queue on disk while they cannot connect.
    const outageStart = Date.now();
    process.kill(stack.prosody.pid, 'SIGSTOP');
    await sleep(2_000);
    process.kill(stack.prosody.pid, 'SIGKILL');
    await sleep(2_500);
    const outageEnd = Date.now();
    await stack.prosody.restart();

    for (const id of meters) {
      await waitFor(
        `${id}'s outbox to drain`,
        async () => {
          const seqs = await allSeqs(id);
          const caughtUp = (seqs.at(-1) ?? 0) > (lastBefore.get(id) ?? 0) + 5;
          return caughtUp && outboxItems(id) <= 1 ? seqs : undefined;
        },
        30_000,
        200,
      );
      const seqs = await allSeqs(id);
      expectContiguous(seqs); // nothing missing, nothing twice
      const list = await readings(id);
      // in order: the meter's time and the data seq agree
      expect(list.map((r) => r.seq)).toEqual([...list.map((r) => r.seq)].sort((a, b) => a - b));
      // readings made during the outage arrived late and say so
      const during = list.filter((r) => {
        const ts = Date.parse(r.ts);
        return ts > outageStart + 200 && ts < outageEnd;
      });
      expect(during.length).toBeGreaterThanOrEqual(3);
      expect(during.every((r) => r.delayed)).toBe(true);
      expect(list.every((r) => r.dropped === 0)).toBe(true);
    }
    for (const id of meters) expect(stack.agents.get(id)?.process?.running).toBe(true);
  }, 60_000);

  it('holds data while the service is down (the server bounces it) and delivers it after', async () => {
    const id = 'mtr-0001';
    const lastBefore = (await allSeqs(id)).at(-1) ?? 0;
    await stack.service.stop('SIGKILL');
    await sleep(3_000);
    await stack.startService();
    const seqs = await waitFor(
      'the held readings',
      async () => {
        const all = await allSeqs(id);
        return (all.at(-1) ?? 0) >= lastBefore + 4 && outboxItems(id) <= 1 ? all : undefined;
      },
      30_000,
      200,
    );
    expectContiguous(seqs);
    const bounced = (await readings(id)).filter((r) => r.seq > lastBefore + 1).slice(0, 2);
    expect(bounced.every((r) => r.delayed)).toBe(true);
  }, 60_000);
});
