import type { Element } from '@xmpp/xml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdhocSessions } from '../../meter-agent/commands/adhoc-sessions.js';
import { answerAdhocCommands } from '../../meter-agent/xmpp/adhoc-handler.js';
import { silentLogger } from '../../src/log.js';
import { buildCommandRequest, parseCommandResponse } from '../../src/protocol/index.js';
import { type CommandFixture, commandFixture, JIDS } from './helpers/command-fixture.js';
import { describeError, type FakeXmpp, fakeXmpp } from './helpers/fake-xmpp.js';

// PROTOCOL §4, the XEP-0050 door without sockets: form stage and sessions, the three ways
// clients submit, one-shot submissions, cancel, and every error with its XEP-0050 condition.

const node = (name: string) => `urn:gridpresence:cmd:${name}`;
let f: CommandFixture;
let x: FakeXmpp;
let sessionClock: { ms: number };

beforeEach(() => {
  f = commandFixture({ rateLimit: { burst: 30, refillPerS: 1, maxSenders: 16 } });
  x = fakeXmpp();
  sessionClock = { ms: 0 };
  answerAdhocCommands({
    xmpp: x.client,
    dispatcher: f.dispatcher,
    sessions: createAdhocSessions(
      { maxSessions: 4, maxPerRequester: 3, ttlMs: 60_000 },
      () => sessionClock.ms,
    ),
    logger: silentLogger(),
  });
});
afterEach(() => f.cleanup());

const send = (from: string, request: Parameters<typeof buildCommandRequest>[0]) =>
  x.iq('set', from, buildCommandRequest(request));

function response(answer: Element | undefined) {
  const parsed = parseCommandResponse(answer);
  if (!parsed.ok) throw new Error(`${parsed.error}: ${answer?.toString()}`);
  return parsed.value;
}

describe('the two-step flow', () => {
  it('returns the form with a session, then runs the submission of that session', async () => {
    const stage = response(await send(JIDS.operator, { node: node('relay'), action: 'execute' }));
    expect(stage).toMatchObject({
      status: 'executing',
      actions: { execute: 'complete', allowed: ['complete'] },
    });
    expect(stage.form?.fields.map((field) => [field.var, field.type, field.label])).toEqual([
      ['action', 'list-single', 'Action'],
      ['confirm', 'boolean', 'I confirm this relay operation'],
    ]);
    const sessionid = stage.sessionid as string;
    expect(sessionid).toBeTruthy();
    expect(f.audit).toEqual([]);

    // Profanity: no action at all
    const done = response(
      await send(JIDS.operator, {
        node: node('relay'),
        sessionid,
        form: { action: ['open'], confirm: ['1'] },
      }),
    );
    expect(done).toMatchObject({
      status: 'completed',
      sessionid,
      notes: [{ type: 'info', text: 'Relay open.' }],
    });
    expect(done.form).toEqual({
      type: 'result',
      title: 'Service relay',
      fields: [{ var: 'relay', type: 'text-single', label: 'Relay state', value: 'open' }],
    });
    expect(f.meter.condition().relay).toBe('open');
    expect(f.audit).toMatchObject([{ command: 'relay', outcome: 'ok', via: 'adhoc' }]);

    // the session is over
    const again = await send(JIDS.operator, {
      node: node('relay'),
      sessionid,
      form: { action: ['open'], confirm: ['1'] },
    });
    expect(describeError(again)).toMatchObject({
      type: 'modify',
      condition: 'bad-request',
      adhoc: 'bad-sessionid',
    });
  });

  it('completes with action complete or execute as well', async () => {
    for (const action of ['complete', 'execute'] as const) {
      const { sessionid } = response(await send(JIDS.operator, { node: node('reporting') }));
      const done = response(
        await send(JIDS.operator, {
          node: node('reporting'),
          sessionid,
          action,
          form: { 'interval-s': ['120'] },
        }),
      );
      expect(done.status).toBe('completed');
    }
    expect(f.reporting.intervalS).toBe(120);
  });

  it('keeps the session after a bad value so the form can be corrected', async () => {
    const { sessionid } = response(await send(JIDS.operator, { node: node('load-limit') }));
    const bad = await send(JIDS.operator, {
      node: node('load-limit'),
      sessionid,
      action: 'complete',
      form: { 'limit-kw': ['-3'], 'duration-min': ['30'] },
    });
    expect(describeError(bad)).toEqual({
      type: 'modify',
      condition: 'bad-request',
      text: "limit-kw: '-3' is not a decimal number",
      adhoc: undefined,
    });
    const good = await send(JIDS.operator, {
      node: node('load-limit'),
      sessionid,
      action: 'complete',
      form: { 'limit-kw': ['3'], 'duration-min': ['30'] },
    });
    expect(response(good).status).toBe('completed');
    expect(f.modes.modes.loadLimit?.limitKw).toBe(3);
  });

  it('cancels a session', async () => {
    const { sessionid } = response(await send(JIDS.operator, { node: node('maintenance') }));
    const canceled = response(
      await send(JIDS.operator, { node: node('maintenance'), sessionid, action: 'cancel' }),
    );
    expect(canceled).toMatchObject({ status: 'canceled', sessionid });
    const late = await send(JIDS.operator, {
      node: node('maintenance'),
      sessionid,
      form: { enable: ['true'] },
    });
    expect(describeError(late).adhoc).toBe('bad-sessionid');
    expect(f.modes.modes.maintenance).toBeNull();
  });

  it('refuses an expired session, someone else’s, and next/prev', async () => {
    const { sessionid } = response(await send(JIDS.operator, { node: node('pq') }));
    expect(
      describeError(await send(JIDS.admin, { node: node('pq'), sessionid, form: {} })),
    ).toMatchObject({
      condition: 'bad-request',
      adhoc: 'bad-sessionid',
    });
    expect(
      describeError(await send(JIDS.operator, { node: node('read'), sessionid, form: {} })).adhoc,
    ).toBe('bad-sessionid');
    expect(
      describeError(await send(JIDS.operator, { node: node('pq'), sessionid, action: 'next' })),
    ).toMatchObject({
      type: 'modify',
      condition: 'bad-request',
      adhoc: 'bad-action',
    });
    sessionClock.ms += 60_001;
    expect(
      describeError(await send(JIDS.operator, { node: node('pq'), sessionid, form: {} })),
    ).toMatchObject({
      type: 'cancel',
      condition: 'not-allowed',
      adhoc: 'session-expired',
    });
  });
});

describe('one-shot requests (programs such as the presence service)', () => {
  it('runs a submission in the first request', async () => {
    const done = response(
      await send(JIDS.service, {
        node: node('maintenance'),
        action: 'execute',
        form: { enable: ['true'], note: ['CT swap'] },
      }),
    );
    expect(done.status).toBe('completed');
    expect(done.sessionid).toBeTruthy();
    expect(done.form?.fields).toEqual([
      { var: 'maintenance', type: 'text-single', label: 'Maintenance mode', value: 'on' },
      { var: 'note', type: 'text-single', label: 'Note', value: 'CT swap' },
    ]);
    expect(f.modes.modes.maintenance).toEqual({ note: 'CT swap' });
  });

  it('runs `complete` without a form with no values (read: all registers)', async () => {
    const done = response(await send(JIDS.viewer, { node: node('read'), action: 'complete' }));
    expect(done.form?.fields).toHaveLength(17);
    expect(done.form?.fields[0]).toMatchObject({
      type: 'text-single',
      label: 'Active energy import (kWh)',
    });
  });
});

describe('errors (PROTOCOL §2, §4; XEP-0050 §4.6)', () => {
  it('answers an unknown node, a chat-only command and a malformed action', async () => {
    expect(describeError(await send(JIDS.operator, { node: node('self-destruct') }))).toMatchObject(
      {
        type: 'cancel',
        condition: 'item-not-found',
      },
    );
    expect(describeError(await send(JIDS.operator, { node: 'other-node' })).condition).toBe(
      'item-not-found',
    );
    expect(describeError(await send(JIDS.operator, { node: node('help') })).condition).toBe(
      'item-not-found',
    );
    const malformed = buildCommandRequest({ node: node('read') });
    malformed.attrs.action = 'explode';
    expect(describeError(await x.iq('set', JIDS.operator, malformed))).toMatchObject({
      type: 'modify',
      condition: 'bad-request',
      adhoc: 'malformed-action',
    });
    expect(f.audit.map((a) => a.condition)).toEqual([
      'item-not-found',
      'item-not-found',
      'item-not-found',
      'bad-request',
    ]);
  });

  it('refuses by role with auth/forbidden, at the form stage already', async () => {
    expect(describeError(await send(JIDS.viewer, { node: node('relay') }))).toMatchObject({
      type: 'auth',
      condition: 'forbidden',
      text: 'relay needs the operator role',
    });
    expect(
      describeError(await send(JIDS.stranger, { node: node('read'), action: 'complete' })),
    ).toMatchObject({
      type: 'auth',
      condition: 'forbidden',
    });
    expect(
      describeError(await send(JIDS.stranger, { node: node('read'), action: 'cancel' })).condition,
    ).toBe('forbidden');
  });

  it('refuses a relay close during lockout with cancel/not-allowed', async () => {
    f.meter.inject('relay-lockout');
    const answer = await send(JIDS.operator, {
      node: node('relay'),
      form: { action: ['close'], confirm: ['true'] },
    });
    expect(describeError(answer)).toMatchObject({ type: 'cancel', condition: 'not-allowed' });
  });

  it('refuses an oversized request with modify/not-acceptable', async () => {
    const answer = await send(JIDS.operator, {
      node: node('read'),
      form: { registers: Array.from({ length: 60 }, () => '1-0:1.8.0'.repeat(10)) },
    });
    expect(describeError(answer)).toMatchObject({ type: 'modify', condition: 'not-acceptable' });
  });

  it('answers a flood with wait/resource-constraint', async () => {
    const answers = [];
    for (let i = 0; i < 32; i += 1)
      answers.push(await send(JIDS.viewer, { node: node('read'), action: 'complete' }));
    expect(describeError(answers.at(-1))).toMatchObject({
      type: 'wait',
      condition: 'resource-constraint',
    });
  });

  it('bounds the sessions: a requester’s flood of forms only drops its own oldest', async () => {
    const mine = response(await send(JIDS.operator, { node: node('pq') })).sessionid;
    const first = response(await send(JIDS.admin, { node: node('pq') })).sessionid;
    for (let i = 0; i < 20; i += 1) await send(JIDS.admin, { node: node('pq') });
    expect(
      describeError(await send(JIDS.admin, { node: node('pq'), sessionid: first, form: {} })).adhoc,
    ).toBe('bad-sessionid');
    expect(
      response(await send(JIDS.operator, { node: node('pq'), sessionid: mine, form: {} })).status,
    ).toBe('completed');
  });

  it('charges a two-step command one token: asking for the form is free', async () => {
    for (let i = 0; i < 30; i += 1) {
      const { sessionid } = response(await send(JIDS.operator, { node: node('pq') }));
      expect(sessionid).toBeTruthy();
    }
    // 30 forms later, the whole burst is still there
    for (let i = 0; i < 30; i += 1) {
      expect(
        response(await send(JIDS.operator, { node: node('pq'), action: 'complete' })).status,
      ).toBe('completed');
    }
    expect(
      describeError(await send(JIDS.operator, { node: node('pq'), action: 'complete' })).condition,
    ).toBe('resource-constraint');
  });
});
