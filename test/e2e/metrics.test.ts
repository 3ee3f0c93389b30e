import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { waitForRecordedState } from './helpers/api.js';
import { startTestStack } from './helpers/test-stack.js';

// GET /metrics of the real service process (docs/metrics.md), with real agents on a real
// Prosody: the meters-per-state gauge agrees with the agents that are online, the state-change
// counter moves when an agent changes state, and the agents' readings carry their outbox
// backlog (docs/protocol.md "Data") all the way to the gauges.

const ONLINE = ['mtr-0001', 'mtr-0002', 'mtr-0003'];

let stack: Stack;

/** The API wants a viewer on /metrics (docs/http-auth.md): the stack's admin token, if any. */
function authHeaders(): Record<string, string> {
  const token = (stack as Stack & { apiToken?: string }).apiToken;
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** One scrape: `name{a="x",b="y"}` (labels sorted) → value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${stack.apiUrl}/metrics`, { headers: authHeaders() });
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status} ${await res.text()}`);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, key, value]) => `${key}="${value}"`)
      .sort();
    samples.set(`${match[1]}{${labels.join(',')}}`, Number(match[3]));
  }
  return samples;
}

const key = (name: string, labels: Record<string, string> = {}) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;

/** Every state change counted so far, whatever its state and source. */
const totalChanges = (samples: Map<string, number>) =>
  [...samples]
    .filter(([k]) => k.startsWith('gridpresence_state_changes_total{'))
    .reduce((sum, [, v]) => sum + v, 0);

beforeAll(async () => {
  // Readings every 2 s, so the backlog they carry arrives within the test.
  stack = await startTestStack(4, { agentConfig: { telemetry: { intervalS: 2 } } });
  for (const id of ONLINE) stack.startAgent(id);
  await Promise.all(ONLINE.map((id) => waitForRecordedState(stack, id, 'available')));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('GET /metrics on the running service', () => {
  it('counts the online meters as available, and the never-started one as decoupled', async () => {
    const samples = await scrape();
    expect(samples.get(key('gridpresence_meters', { state: 'available' }))).toBe(ONLINE.length);
    expect(samples.get(key('gridpresence_meters', { state: 'decoupled' }))).toBe(1);
    expect(samples.get(key('gridpresence_xmpp_connected'))).toBe(1);
    expect(samples.get(key('gridpresence_process_resident_memory_bytes'))).toBeGreaterThan(0);
  });

  it('counts a state change the moment an agent announces it', async () => {
    const before = await scrape();
    const restrictedBefore =
      before.get(
        key('gridpresence_state_changes_total', { state: 'restricted', source: 'push' }),
      ) ?? 0;
    const agentDir = stack.agents.get('mtr-0001')?.dataDir as string;
    await controlRequest(agentDir, { op: 'inject', name: 'tamper' });
    await waitForRecordedState(stack, 'mtr-0001', 'restricted', 'tamper-suspected');

    const after = await scrape();
    expect(
      after.get(key('gridpresence_state_changes_total', { state: 'restricted', source: 'push' })),
    ).toBe(restrictedBefore + 1);
    expect(totalChanges(after)).toBeGreaterThan(totalChanges(before));
    expect(after.get(key('gridpresence_meters', { state: 'restricted' }))).toBe(1);
    expect(after.get(key('gridpresence_meters', { state: 'available' }))).toBe(ONLINE.length - 1);

    await controlRequest(agentDir, { op: 'inject', name: 'tamper-clear' });
    await waitForRecordedState(stack, 'mtr-0001', 'available');
  });

  it("receives every online agent's outbox backlog with its readings", async () => {
    const samples = await waitFor(
      'a reading with its backlog from every online agent',
      async () => {
        const s = await scrape();
        return s.get(key('gridpresence_agent_outbox_reporting_meters')) === ONLINE.length
          ? s
          : undefined;
      },
      15_000,
      250,
    );
    expect(
      samples.get(key('gridpresence_data_items_total', { kind: 'reading', result: 'stored' })),
    ).toBeGreaterThanOrEqual(ONLINE.length);
    // connected agents with the service up: their outboxes hold little, if anything
    expect(samples.get(key('gridpresence_agent_outbox_items_max'))).toBeLessThan(5);
  });

  it('times its own HTTP requests by route pattern', async () => {
    await fetch(`${stack.apiUrl}/api/meters/mtr-0002`, { headers: authHeaders() });
    const samples = await scrape();
    const meterRequests = [...samples].filter(
      ([k]) =>
        k.startsWith('gridpresence_http_request_duration_seconds_count{') &&
        k.includes('route="/api/meters/:id"'),
    );
    expect(meterRequests.reduce((sum, [, v]) => sum + v, 0)).toBeGreaterThanOrEqual(1);
  });
});
