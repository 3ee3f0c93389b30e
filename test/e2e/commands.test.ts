import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import xml, { type Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../meter-agent/config.js';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import type { AuditEntry } from '../../meter-agent/security/audit-entry.js';
import {
  type AdhocResponse,
  buildCommandRequest,
  NS_COMMANDS,
  NS_DATA,
  NS_DISCO_ITEMS,
  parseCommandResponse,
} from '../../src/protocol/index.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { apiFetch, waitForRecordedState } from './helpers/api.js';
import { startTestStack } from './helpers/test-stack.js';
import { connectUser, type XmppUser } from './helpers/xmpp-user.js';

// PROTOCOL §4 and §5 end to end: real Prosody, a real agent process, the real service. Ad-hoc
// commands two-step (execute → form → submit with the session) and one-shot (a submission in
// the first request), their effect on presence as the service records it, refusals by role
// and for strangers, and the same commands as chat lines; every refusal lands in audit.log.
// The per-sender rate limit (10 commands, 1/s) is part of what runs here, so the operator's
// work is spread over three operator accounts as it would be over several people.

const METER = 'mtr-0001';
const USERS = {
  operator2: { password: 'operator2-pass-1', role: 'operator' },
  chatops: { password: 'chatops-pass-1', role: 'operator' },
  viewer: { password: 'viewer-pass-1', role: 'viewer' },
  stranger: { password: 'stranger-pass-1', role: null },
} as const;

let stack: Stack;
let operator: XmppUser;
let operator2: XmppUser;
let chatops: XmppUser;
let viewer: XmppUser;
let stranger: XmppUser;
let meterJid: string;

const node = (name: string) => `urn:gridpresence:cmd:${name}`;
const agentDir = () => stack.agents.get(METER)?.dataDir as string;

beforeAll(async () => {
  stack = await startTestStack(1);
  const domain = stack.prosody.domain;
  meterJid = `${METER}@${domain}/agent`;
  await stack.prosody.createAccounts(
    Object.entries(USERS).map(([username, u]) => ({ username, password: u.password })),
  );
  // PROTOCOL §2: the agent's ACL, as a deployment would configure it.
  const configFile = stack.agents.get(METER)?.configFile as string;
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as AgentConfig;
  for (const [username, u] of Object.entries(USERS)) {
    if (u.role) config.acl.push({ jid: `${username}@${domain}`, role: u.role });
  }
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  stack.startAgent(METER);
  await waitForRecordedState(stack, METER, 'available');
  [operator, operator2, chatops, viewer, stranger] = await Promise.all([
    connectUser(stack, 'operator', stack.operator.password),
    connectUser(stack, 'operator2', USERS.operator2.password),
    connectUser(stack, 'chatops', USERS.chatops.password),
    connectUser(stack, 'viewer', USERS.viewer.password),
    connectUser(stack, 'stranger', USERS.stranger.password),
  ]);
  // Chat answers go to an available resource.
  await Promise.all([chatops, viewer, stranger].map((u) => u.xmpp.send(xml('presence'))));
}, 60_000);

afterAll(async () => {
  await Promise.all([operator, operator2, chatops, viewer, stranger].map((u) => u?.stop()));
  await stack?.stop();
});

/** One ad-hoc request; a stanza error comes back as { error }. */
async function adhoc(
  user: XmppUser,
  request: Parameters<typeof buildCommandRequest>[0],
): Promise<
  | { ok: true; response: AdhocResponse }
  | { ok: false; error: { type: string; condition: string; text: string; adhoc?: string } }
> {
  try {
    const answer = await user.xmpp.iqCaller.request(
      xml('iq', { type: 'set', to: meterJid }, buildCommandRequest(request)),
    );
    const parsed = parseCommandResponse(answer.getChild('command', NS_COMMANDS));
    if (!parsed.ok) throw new Error(parsed.error);
    return { ok: true, response: parsed.value };
  } catch (error) {
    const e = error as { condition?: string; type?: string; text?: string; application?: Element };
    if (!e.condition) throw error;
    return {
      ok: false,
      error: {
        type: String(e.type),
        condition: e.condition,
        text: e.text ?? '',
        ...(e.application ? { adhoc: e.application.name } : {}),
      },
    };
  }
}

async function completed(user: XmppUser, request: Parameters<typeof buildCommandRequest>[0]) {
  const answer = await adhoc(user, request);
  if (!answer.ok) throw new Error(`${request.node}: ${JSON.stringify(answer.error)}`);
  expect(answer.response.status).toBe('completed');
  return answer.response;
}

async function refused(user: XmppUser, request: Parameters<typeof buildCommandRequest>[0]) {
  const answer = await adhoc(user, request);
  if (answer.ok) throw new Error(`${request.node} was carried out`);
  return answer.error;
}

/** Sends a chat line to the meter and returns the body of its answer. */
async function chat(user: XmppUser, body: string): Promise<string> {
  const before = user.stanzas.length;
  await user.xmpp.send(xml('message', { to: meterJid, type: 'chat' }, xml('body', {}, body)));
  const answer = await waitFor(
    `an answer to '${body}'`,
    () =>
      user.stanzas
        .slice(before)
        .find((s) => s.is('message') && s.attrs.from === meterJid && s.getChild('body')),
    10_000,
  );
  expect(answer.attrs.type).toBe('chat');
  return answer.getChildText('body') ?? '';
}

function auditLog(): AuditEntry[] {
  return readFileSync(join(agentDir(), 'audit.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEntry);
}

const expectTypedAndLabelled = (fields: Array<{ type: string; label: string }> | undefined) => {
  expect(fields?.length).toBeGreaterThan(0);
  for (const field of fields ?? []) {
    expect(field.type).toBeTruthy();
    expect(field.label).toBeTruthy();
  }
};

// Benign values: the state tests below check the effects.
const SUBMISSIONS: Record<string, Record<string, string[]>> = {
  read: { registers: ['1-0:1.8.0', '1-0:32.7.0'] },
  pq: { 'window-min': ['15'] },
  relay: { action: ['close'], confirm: ['true'] },
  'load-limit': { clear: ['true'] },
  maintenance: { enable: ['false'] },
  reporting: { 'interval-s': ['60'] },
};

describe('the register query (an IQ get for programs)', () => {
  const query = (user: XmppUser, ids: string[] = []) =>
    user.xmpp.iqCaller.get(
      xml('reading', { xmlns: NS_DATA }, ...ids.map((id) => xml('v', { id }))),
      meterJid,
    );

  it('answers a viewer with the current values, as a <reading/> without a data seq', async () => {
    const reading = await query(viewer, ['1-0:1.8.0', '1-0:32.7.0']);
    const values = reading.getChildren('v').map((v: Element) => [v.attrs.id, v.attrs.unit]);
    expect(values).toEqual([
      ['1-0:1.8.0', 'kWh'],
      ['1-0:32.7.0', 'V'],
    ]);
    expect(Number(reading.getChildren('v')[0]?.attrs.value)).toBeGreaterThan(0);
    expect(reading.attrs.seq).toBeUndefined();
    expect((await query(viewer)).getChildren('v').length).toBeGreaterThanOrEqual(17);
    expect(auditLog().at(-1)).toMatchObject({ via: 'iq', command: 'read', outcome: 'ok' });
  });

  it('refuses a bad register id and a stranger', async () => {
    await expect(query(viewer, ['9-9:nonsense'])).rejects.toMatchObject({
      condition: 'bad-request',
    });
    await expect(query(stranger)).rejects.toMatchObject({ condition: 'forbidden' });
  });
});

describe('ad-hoc commands (PROTOCOL §4, XEP-0050)', () => {
  it('lists the commands by disco#items', async () => {
    const items = await operator.xmpp.iqCaller.get(
      xml('query', { xmlns: NS_DISCO_ITEMS, node: NS_COMMANDS }),
      meterJid,
    );
    expect(items.getChildren('item').map((i: Element) => i.attrs.node)).toEqual(
      Object.keys(SUBMISSIONS).map(node),
    );
  });

  it('runs every command two-step: execute → form → submit with the session', async () => {
    for (const [name, form] of Object.entries(SUBMISSIONS)) {
      const stage = await adhoc(operator, { node: node(name), action: 'execute' });
      if (!stage.ok) throw new Error(`${name}: ${JSON.stringify(stage.error)}`);
      expect(stage.response).toMatchObject({
        status: 'executing',
        actions: { execute: 'complete' },
      });
      expectTypedAndLabelled(stage.response.form?.fields);
      const sessionid = stage.response.sessionid as string;
      const done = await completed(operator, {
        node: node(name),
        sessionid,
        action: 'complete',
        form,
      });
      expect(done.sessionid).toBe(sessionid);
      expect(done.form?.type).toBe('result');
      expectTypedAndLabelled(done.form?.fields);
      expect(done.notes[0]?.type).toBe('info');
    }
    const read = await completed(operator2, { node: node('read'), form: SUBMISSIONS.read });
    expect(read.form?.fields.map((f) => f.label)).toEqual([
      'Active energy import (kWh)',
      'Voltage L1 (V)',
    ]);
  });

  it('runs one-shot submissions, and the presence follows (relay, load limit, maintenance)', async () => {
    const one = (name: string, form: Record<string, string[]>) =>
      completed(operator2, { node: node(name), action: 'execute', form });

    expect((await one('pq', {})).form?.fields.find((f) => f.var === 'window-min')?.value).toBe(
      '15',
    );
    const interval = await one('reporting', { 'interval-s': ['300'] });
    expect(interval.form?.fields).toEqual([
      { var: 'interval-s', type: 'text-single', label: 'Reporting interval (s)', value: '300' },
    ]);

    await one('relay', { action: ['open'], confirm: ['true'] });
    await waitForRecordedState(stack, METER, 'restricted', 'relay-open');
    await one('relay', { action: ['close'], confirm: ['true'] });
    await waitForRecordedState(stack, METER, 'available');

    const limit = await one('load-limit', { 'limit-kw': ['5'], 'duration-min': ['30'] });
    expect(limit.form?.fields.map((f) => [f.var, f.label])).toEqual([
      ['limit-kw', 'Load limit (kW)'],
      ['until', 'Until (UTC)'],
    ]);
    const limited = await waitForRecordedState(stack, METER, 'restricted', 'load-limit');
    expect(limited.reason?.text).toMatch(/^load limit 5 kW until \d\d:\d\dZ$/);
    await one('load-limit', { clear: ['true'] });
    await waitForRecordedState(stack, METER, 'available');

    await one('maintenance', { enable: ['true'], note: ['CT swap'] });
    const maintenance = await waitForRecordedState(stack, METER, 'unavailable', 'maintenance');
    expect(maintenance.reason?.text).toBe('CT swap');
    await one('maintenance', { enable: ['false'] });
    await waitForRecordedState(stack, METER, 'available');
  });

  it('refuses an unknown node, a bad field, and a relay close during lockout', async () => {
    expect(await refused(operator, { node: node('self-destruct') })).toMatchObject({
      type: 'cancel',
      condition: 'item-not-found',
    });
    expect(
      await refused(operator, { node: node('reporting'), form: { 'interval-s': ['3'] } }),
    ).toEqual({
      type: 'modify',
      condition: 'bad-request',
      text: 'interval-s: 3 is out of range (5-86400)',
    });
    await controlRequest(agentDir(), { op: 'inject', name: 'relay-lockout' });
    await waitForRecordedState(stack, METER, 'unavailable', 'relay-lockout');
    expect(
      await refused(operator, {
        node: node('relay'),
        form: { action: ['close'], confirm: ['true'] },
      }),
    ).toMatchObject({ type: 'cancel', condition: 'not-allowed' });
    await controlRequest(agentDir(), { op: 'inject', name: 'relay-close' });
    await waitForRecordedState(stack, METER, 'available');
  });
});

describe('roles and strangers (PROTOCOL §2)', () => {
  it('lets a viewer read and refuses it operator commands with auth/forbidden', async () => {
    await completed(viewer, { node: node('read'), action: 'complete' });
    expect(await refused(viewer, { node: node('relay'), action: 'execute' })).toEqual({
      type: 'auth',
      condition: 'forbidden',
      text: 'relay needs the operator role',
    });
    expect(
      await refused(viewer, { node: node('relay'), form: { action: ['open'], confirm: ['true'] } }),
    ).toMatchObject({ type: 'auth', condition: 'forbidden' });
    expect(await chat(viewer, 'relay open confirm')).toBe(
      'Refused (forbidden): relay needs the operator role',
    );
  });

  it('refuses a stranger everything, and tells it nothing through disco', async () => {
    expect(await refused(stranger, { node: node('read'), action: 'execute' })).toMatchObject({
      type: 'auth',
      condition: 'forbidden',
    });
    expect(
      await refused(stranger, {
        node: node('relay'),
        form: { action: ['open'], confirm: ['true'] },
      }),
    ).toMatchObject({ type: 'auth', condition: 'forbidden' });
    await expect(
      stranger.xmpp.iqCaller.get(
        xml('query', { xmlns: NS_DISCO_ITEMS, node: NS_COMMANDS }),
        meterJid,
      ),
    ).rejects.toMatchObject({ condition: 'service-unavailable' });
    expect(await chat(stranger, 'status')).toBe(
      'Refused (forbidden): not authorised to command this meter',
    );
  });

  it('writes every refusal to the agent’s audit.log', async () => {
    const domain = stack.prosody.domain;
    const refusals = auditLog()
      .filter((e) => e.outcome !== 'ok')
      .map((e) => [e.from.split('/')[0], e.via, e.command, e.condition]);
    expect(refusals).toEqual(
      expect.arrayContaining([
        [`operator@${domain}`, 'adhoc', 'self-destruct', 'item-not-found'],
        [`operator@${domain}`, 'adhoc', 'reporting', 'bad-request'],
        [`operator@${domain}`, 'adhoc', 'relay', 'not-allowed'],
        [`viewer@${domain}`, 'adhoc', 'relay', 'forbidden'],
        [`viewer@${domain}`, 'chat', 'relay', 'forbidden'],
        [`stranger@${domain}`, 'adhoc', 'read', 'forbidden'],
        [`stranger@${domain}`, 'adhoc', 'relay', 'forbidden'],
        [`stranger@${domain}`, 'chat', 'status', 'forbidden'],
      ]),
    );
    const ok = auditLog().filter((e) => e.command === 'relay' && e.outcome === 'ok');
    expect(ok.map((e) => [e.from.split('/')[0], e.args.action?.[0]])).toEqual([
      [`operator@${domain}`, 'close'],
      [`operator2@${domain}`, 'open'],
      [`operator2@${domain}`, 'close'],
    ]);
  });

  it('reports the audit trail to the service, without strangers’ refusals', async () => {
    const domain = stack.prosody.domain;
    const served = await waitFor(
      'the audit entries at the service',
      async () => {
        const res = await apiFetch(
          stack,
          `/api/meters/${METER}/audit?since=2000-01-01T00:00:00Z&limit=1000`,
        );
        const body = (await res.json()) as {
          audit: Array<{ from: string; command: string; outcome: string }>;
        };
        const relays = body.audit.filter((e) => e.command === 'relay' && e.outcome === 'ok');
        return relays.length >= 3 ? body.audit : undefined;
      },
      10_000,
      100,
    );
    const who = new Set(served.map((e) => e.from.split('/')[0]));
    expect(who).toContain(`operator2@${domain}`);
    expect(
      served.some((e) => e.from.startsWith(`viewer@${domain}`) && e.outcome === 'refused'),
    ).toBe(true);
    // kept in the meter's own file, but not sent: anyone could otherwise fill the outbox
    expect(who).not.toContain(`stranger@${domain}`);
  });

  it('answers a flood with wait/resource-constraint', async () => {
    const answers = await Promise.all(
      Array.from({ length: 14 }, () => adhoc(viewer, { node: node('read'), action: 'complete' })),
    );
    expect(answers.filter((a) => a.ok).length).toBeLessThanOrEqual(11);
    expect(answers.find((a) => !a.ok)).toMatchObject({
      error: { type: 'wait', condition: 'resource-constraint' },
    });
  });
});

describe('chat commands (PROTOCOL §5)', () => {
  it('answers help, status and the operator lines in plain text', async () => {
    expect(await chat(chatops, 'help')).toContain('relay open confirm | relay close confirm');
    expect(await chat(chatops, 'status')).toMatch(/^Available \(seq \d+, since /);
    expect(await chat(chatops, 'relay open confirm')).toBe('Relay open.');
    await waitForRecordedState(stack, METER, 'restricted', 'relay-open');
    expect(await chat(chatops, 'relay close confirm')).toBe('Relay closed.');
    await waitForRecordedState(stack, METER, 'available');
    expect(await chat(chatops, 'limit 5 30')).toMatch(/^Load limit 5 kW until .*Z\.$/);
    await waitForRecordedState(stack, METER, 'restricted', 'load-limit');
    expect(await chat(chatops, 'limit clear')).toBe('Load limit cleared.');
    await waitForRecordedState(stack, METER, 'available');
  });

  it('hints at help for anything else, and names a bad field', async () => {
    expect(await chat(chatops, 'open sesame')).toBe("Unknown command. Send 'help' for the list.");
    expect(await chat(chatops, 'relay open')).toBe(
      'Refused (bad-request): confirm: must be true to open the relay',
    );
  });
});
