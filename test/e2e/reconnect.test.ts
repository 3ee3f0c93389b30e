import { readFileSync, writeFileSync } from 'node:fs';
import xml from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { getHistory, getJson, getMeter, waitForRecordedState } from './helpers/api.js';
import { startTestStack } from './helpers/test-stack.js';
import { connectUser } from './helpers/xmpp-user.js';

// Prosody restarted under running meters and a running service: everybody reconnects with
// backoff and the service ends with the right current state.

let stack: Stack;
const meters = ['mtr-0001', 'mtr-0002', 'mtr-0003'];

beforeAll(async () => {
  stack = await startTestStack(meters.length);
  for (const id of meters) stack.startAgent(id);
  await Promise.all(meters.map((id) => waitForRecordedState(stack, id, 'available')));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('an XMPP server restart', () => {
  it('brings every meter and the service back, and the service records them online', async () => {
    const seqBefore = new Map(
      await Promise.all(meters.map(async (id) => [id, (await getMeter(stack, id)).seq] as const)),
    );
    await stack.prosody.restart();

    await waitFor(
      'the service to be healthy again',
      async () => (await fetch(`${stack.apiUrl}/healthz`)).ok || undefined,
      20_000,
      100,
    );
    for (const id of meters) {
      // A new session is a new coupling: the agent announces its state with the next seq.
      const expectedSeq = (seqBefore.get(id) ?? 0) + 1;
      const last = await waitFor(
        `${id} to be recorded available with seq ${expectedSeq}`,
        async () => {
          const row = (await getHistory(stack, id)).at(-1);
          return row?.seq === expectedSeq ? row : undefined;
        },
        30_000,
        100,
      );
      expect(last).toMatchObject({ state: 'available', gap: 0 });
    }
    const stats = await getJson<{ counts: Record<string, number> }>(stack, `/api/stats`);
    expect(stats.counts.available).toBe(meters.length);
    // every agent is still the process we started: it reconnected, it did not crash
    for (const id of meters) expect(stack.agents.get(id)?.process?.running).toBe(true);
  });
});

describe('an ACL change', () => {
  it('takes the subscription away from someone removed from the ACL, on the next session', async () => {
    const id = 'mtr-0003';
    const operator = await connectUser(stack, 'operator', stack.operator.password);
    try {
      await operator.xmpp.send(xml('presence'));
      await operator.xmpp.send(
        xml('presence', { to: `${id}@${stack.prosody.domain}`, type: 'subscribe' }),
      );
      await operator.waitForStanza('the approval', (s) => s.attrs.type === 'subscribed');

      const handle = stack.agents.get(id);
      if (!handle?.process) throw new Error('agent not running');
      await handle.process.stop();
      const config = JSON.parse(readFileSync(handle.configFile, 'utf8')) as { acl: unknown[] };
      config.acl = [];
      writeFileSync(handle.configFile, JSON.stringify(config));
      stack.startAgent(id);

      const revoked = await operator.waitForStanza(
        'the revocation',
        (s) => s.attrs.type === 'unsubscribed' && String(s.attrs.from).startsWith(`${id}@`),
        15_000,
      );
      expect(revoked.attrs.from).toBe(`${id}@${stack.prosody.domain}`);
    } finally {
      await operator.stop();
    }
  });
});
