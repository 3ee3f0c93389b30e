import xml, { type Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import { NS_METER, stateFromShow } from '../../src/protocol/index.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { getHistory, getMeter, waitForRecordedState } from './helpers/api.js';
import { startTestStack } from './helpers/test-stack.js';
import { connectUser, type XmppUser } from './helpers/xmpp-user.js';

// Meters online, end to end: real Prosody, real agent processes, the real service process.

let stack: Stack;
let operator: XmppUser;

const agentDir = (id: string) => stack.agents.get(id)?.dataDir as string;

beforeAll(async () => {
  stack = await startTestStack(4);
  for (const id of ['mtr-0001', 'mtr-0002', 'mtr-0003']) stack.startAgent(id);
  await Promise.all(
    ['mtr-0001', 'mtr-0002', 'mtr-0003'].map((id) => waitForRecordedState(stack, id, 'available')),
  );
  operator = await connectUser(stack, 'operator', stack.operator.password);
  await operator.xmpp.send(xml('presence'));
  await operator.xmpp.send(
    xml('presence', { to: `mtr-0001@${stack.prosody.domain}`, type: 'subscribe' }),
  );
  await operator.waitForStanza(
    'mtr-0001 to approve the operator',
    (s) =>
      s.is('presence') &&
      s.attrs.type === 'subscribed' &&
      String(s.attrs.from).startsWith('mtr-0001@'),
  );
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  await stack?.stop();
});

describe('the five states (PROTOCOL §1)', () => {
  it('records each state with its reason and seq, and the operator sees the right <show>', async () => {
    const id = 'mtr-0001';
    const steps: Array<{
      request: Parameters<typeof controlRequest>[1];
      state: string;
      reason?: string;
    }> = [
      {
        request: { op: 'activity', code: 'dr-event', text: 'DR event 42' },
        state: 'active',
        reason: 'dr-event',
      },
      { request: { op: 'activity', code: null }, state: 'available' },
      {
        request: { op: 'inject', name: 'tamper' },
        state: 'restricted',
        reason: 'tamper-suspected',
      },
      { request: { op: 'inject', name: 'tamper-clear' }, state: 'available' },
      { request: { op: 'inject', name: 'fault' }, state: 'unavailable', reason: 'fault' },
      { request: { op: 'inject', name: 'fault-clear' }, state: 'available' },
    ];
    let lastSeq = (await getMeter(stack, id)).seq as number;
    for (const step of steps) {
      await controlRequest(agentDir(id), step.request);
      const meter = await waitForRecordedState(stack, id, step.state, step.reason);
      expect(meter.seq).toBe(lastSeq + 1);
      lastSeq = meter.seq as number;
      const seen = await operator.waitForStanza(`the operator to see ${id} ${step.state}`, (s) => {
        const ext = s.getChild('meter', NS_METER);
        return s.is('presence') && ext?.attrs.seq === String(lastSeq);
      });
      expect(stateFromShow(seen.attrs.type, seen.getChildText('show') ?? undefined)).toBe(
        step.state,
      );
    }

    // decoupled: a graceful stop says `shutdown`
    await stack.agents.get(id)?.process?.stop('SIGTERM');
    const decoupled = await waitForRecordedState(stack, id, 'decoupled', 'shutdown');
    expect(decoupled.seq).toBe(lastSeq + 1);
    const goodbye = await operator.waitForStanza(
      'the operator to see the shutdown',
      (s) =>
        s.is('presence') &&
        s.attrs.type === 'unavailable' &&
        s.attrs.from === `${id}@${stack.prosody.domain}/agent`,
    );
    expect(goodbye.getChild('meter', NS_METER)?.getChild('reason')?.attrs.code).toBe('shutdown');

    const history = await getHistory(stack, id);
    const recorded = history
      .slice(-7)
      .map((h) => [h.state, h.reason?.code ?? null, h.source, h.gap]);
    expect(recorded).toEqual([
      ['active', 'dr-event', 'push', 0],
      ['available', null, 'push', 0],
      ['restricted', 'tamper-suspected', 'push', 0],
      ['available', null, 'push', 0],
      ['unavailable', 'fault', 'push', 0],
      ['available', null, 'push', 0],
      ['decoupled', 'shutdown', 'push', 0],
    ]);
  });

  it('keeps seq increasing across an agent restart', async () => {
    const id = 'mtr-0001';
    const before = (await getMeter(stack, id)).seq as number;
    stack.startAgent(id);
    const after = await waitForRecordedState(stack, id, 'available');
    expect(after.seq).toBe(before + 1);
    const last = (await getHistory(stack, id)).at(-1);
    expect(last).toMatchObject({ prevState: 'decoupled', state: 'available', gap: 0 });
  });
});

describe('a meter that dies', () => {
  it('is recorded decoupled after SIGKILL, by the server or by the service pings, whichever is first', async () => {
    const id = 'mtr-0002';
    stack.agents.get(id)?.process?.signal('SIGKILL');
    // Two detectors race (docs/liveness.md): the server reports the session gone once the
    // hibernation (10 s) ends; the service's pings find the meter silent after quietS + tries x
    // timeout (at most 13 s after its last sign of life, which may be 5 s before the kill).
    const meter = await waitForRecordedState(stack, id, 'decoupled', undefined, 30_000);
    const last = (await getHistory(stack, id)).at(-1);
    const byServer = { source: 'server', reason: { code: 'connection-lost', text: null } };
    const byPings = { source: 'ping', reason: { code: 'no-response', text: null } };
    expect([byServer, byPings]).toContainEqual({ source: last?.source, reason: meter.reason });
    expect(last).toMatchObject({ prevState: 'available', state: 'decoupled', seq: null });
  });
});

describe('a service restart', () => {
  it('recovers every current state and records the gap it missed', async () => {
    const id = 'mtr-0003';
    const before = await getMeter(stack, id);
    await stack.service.stop('SIGKILL');
    // two changes while nobody listens: seq +1 (missed) and +2 (the state now)
    await controlRequest(agentDir(id), { op: 'inject', name: 'tamper' });
    await controlRequest(agentDir(id), { op: 'inject', name: 'relay-open' });
    await stack.startService();
    const after = await waitForRecordedState(stack, id, 'restricted', 'relay-open');
    expect(after.seq).toBe((before.seq as number) + 2);
    expect((await getHistory(stack, id)).at(-1)).toMatchObject({
      prevState: 'available',
      state: 'restricted',
      source: 'query',
      gap: 1,
    });
    // the killed meter stays decoupled and the stopped one is still known
    expect((await getMeter(stack, 'mtr-0002')).state).toBe('decoupled');
    expect((await getMeter(stack, 'mtr-0001')).state).toBe('available');
  });
});

describe('the service as an XMPP entity', () => {
  it('answers XEP-0199 ping and XEP-0030 disco#info', async () => {
    const to = stack.prosody.componentJid;
    await operator.xmpp.iqCaller.get(xml('ping', { xmlns: 'urn:xmpp:ping' }), to);
    const info = await operator.xmpp.iqCaller.get(
      xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      to,
    );
    const features = info.getChildren('feature').map((f: Element) => f.attrs.var);
    expect(features).toContain(NS_METER);
    expect(info.getChild('identity')?.attrs.category).toBe('component');
  });
});

describe('security and bad input', () => {
  it('refuses a stranger’s subscription', async () => {
    await stack.prosody.createAccounts([{ username: 'stranger', password: 'stranger-pass-1' }]);
    const stranger = await connectUser(stack, 'stranger', 'stranger-pass-1');
    try {
      await stranger.xmpp.send(xml('presence'));
      await stranger.xmpp.send(
        xml('presence', { to: `mtr-0001@${stack.prosody.domain}`, type: 'subscribe' }),
      );
      const answer = await stranger.waitForStanza(
        'an answer to the subscription',
        (s) =>
          s.is('presence') &&
          ['subscribed', 'unsubscribed'].includes(String(s.attrs.type)) &&
          String(s.attrs.from).startsWith('mtr-0001@'),
      );
      expect(answer.attrs.type).toBe('unsubscribed');
      // and it never got the meter's presence
      expect(stranger.presencesFrom('mtr-0001@').some((s) => s.getChild('meter', NS_METER))).toBe(
        false,
      );
    } finally {
      await stranger.stop();
    }
  });

  it('records a rogue account’s malformed extension as a protocol error and keeps running', async () => {
    const id = 'mtr-0004';
    const password = 'rogue-pass-123';
    await stack.prosody.createAccounts([{ username: id, password }]);
    const rogue = await connectUser(stack, id, password, 'agent');
    try {
      await rogue.xmpp.send(
        xml(
          'presence',
          { to: stack.prosody.componentJid },
          xml('meter', {
            xmlns: NS_METER,
            state: 'on-fire',
            seq: 'x',
            since: 'now',
            kind: 'revenue-meter',
          }),
        ),
      );
      const meter = await waitFor(
        'the protocol error to be recorded',
        async () => {
          const m = await getMeter(stack, id);
          return m.protocolErrors.length > 0 ? m : undefined;
        },
        10_000,
      );
      expect(meter.protocolErrors[0]?.error).toMatch(/seq|state/);
      expect(meter.state).toBe('decoupled'); // never seen with a valid status
      const health = await fetch(`${stack.apiUrl}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await rogue.stop();
    }
  });
});
