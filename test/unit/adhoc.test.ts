import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import {
  buildAdhocErrorCondition,
  buildCanceled,
  buildCommandRequest,
  buildCompleted,
  buildFormStage,
  NS_COMMANDS,
  parseCommandRequest,
  parseCommandResponse,
} from '../../src/protocol/index.js';
import { parseXml } from './helpers/parse-xml.js';

// XEP-0050 as PROTOCOL §4 uses it: single-stage commands, a form then a result.

const NODE = 'urn:gridpresence:cmd:relay';

describe('parseCommandRequest (XEP-0050 §3)', () => {
  it('reads an execute without a form', () => {
    const wire = parseXml(`<command xmlns='${NS_COMMANDS}' node='${NODE}' action='execute'/>`);
    expect(parseCommandRequest(wire)).toEqual({
      ok: true,
      value: { node: NODE, action: 'execute', sessionid: undefined, form: undefined },
    });
  });

  it('reads a submission without an action (Profanity) and with a session', () => {
    const wire = parseXml(
      `<command xmlns='${NS_COMMANDS}' node='${NODE}' sessionid='s1'>
         <x xmlns='jabber:x:data' type='submit'>
           <field var='action'><value>open</value></field>
           <field var='confirm'><value>1</value></field>
         </x>
       </command>`,
    );
    expect(parseCommandRequest(wire)).toEqual({
      ok: true,
      value: {
        node: NODE,
        action: undefined,
        sessionid: 's1',
        form: { action: ['open'], confirm: ['1'] },
      },
    });
  });

  it('round-trips what a requester builds', () => {
    const request = buildCommandRequest({
      node: NODE,
      action: 'complete',
      sessionid: 'abc',
      form: { action: ['close'] },
    });
    expect(parseCommandRequest(parseXml(request.toString()))).toEqual({
      ok: true,
      value: { node: NODE, action: 'complete', sessionid: 'abc', form: { action: ['close'] } },
    });
  });

  it('takes a cancel form as the cancel action, and ignores forms that are not submissions', () => {
    const cancel = xml(
      'command',
      { xmlns: NS_COMMANDS, node: NODE, sessionid: 's' },
      xml('x', { xmlns: 'jabber:x:data', type: 'cancel' }),
    );
    expect(parseCommandRequest(cancel)).toMatchObject({
      ok: true,
      value: { action: 'cancel', form: undefined },
    });
    const stray = xml(
      'command',
      { xmlns: NS_COMMANDS, node: NODE },
      xml('x', { xmlns: 'jabber:x:data', type: 'form' }),
    );
    expect(parseCommandRequest(stray)).toMatchObject({ ok: true, value: { form: undefined } });
  });

  it('names the XEP-0050 condition of a bad request', () => {
    expect(
      parseCommandRequest(xml('command', { xmlns: NS_COMMANDS, node: NODE, action: 'jump' })),
    ).toEqual({
      ok: false,
      error: "unknown action 'jump'",
      adhoc: 'malformed-action',
    });
    expect(parseCommandRequest(xml('command', { xmlns: NS_COMMANDS }))).toMatchObject({
      ok: false,
      adhoc: undefined,
    });
    const badForm = xml(
      'command',
      { xmlns: NS_COMMANDS, node: NODE },
      xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', {}, xml('value', {}, '1'))),
    );
    expect(parseCommandRequest(badForm)).toMatchObject({ ok: false, adhoc: 'bad-payload' });
    expect(parseCommandRequest(xml('query', { xmlns: NS_COMMANDS }))).toMatchObject({ ok: false });
  });
});

describe('responses (XEP-0050 §3.4)', () => {
  const form = {
    type: 'form' as const,
    title: 'Service relay',
    fields: [{ var: 'confirm', type: 'boolean' as const, label: 'Confirm' }],
  };

  it('builds the form stage: executing, the session, complete as the only action', () => {
    const stage = buildFormStage({ node: NODE, sessionid: 's1', form });
    expect(stage.attrs).toMatchObject({
      xmlns: NS_COMMANDS,
      node: NODE,
      sessionid: 's1',
      status: 'executing',
    });
    const parsed = parseCommandResponse(parseXml(stage.toString()));
    expect(parsed).toMatchObject({
      ok: true,
      value: {
        status: 'executing',
        sessionid: 's1',
        actions: { execute: 'complete', allowed: ['complete'] },
        form: { type: 'form', title: 'Service relay' },
      },
    });
  });

  it('builds the completed stage with a result form and an info note', () => {
    const done = buildCompleted({
      node: NODE,
      sessionid: 's1',
      result: {
        type: 'result',
        title: 'Relay',
        fields: [{ var: 'relay', type: 'text-single', label: 'Relay state', value: 'open' }],
      },
      note: 'Relay open.',
    });
    const parsed = parseCommandResponse(parseXml(done.toString()));
    expect(parsed).toEqual({
      ok: true,
      value: {
        node: NODE,
        sessionid: 's1',
        status: 'completed',
        form: {
          type: 'result',
          title: 'Relay',
          fields: [{ var: 'relay', type: 'text-single', label: 'Relay state', value: 'open' }],
        },
        notes: [{ type: 'info', text: 'Relay open.' }],
        actions: undefined,
      },
    });
  });

  it('builds a cancellation and the specific error conditions', () => {
    expect(buildCanceled({ node: NODE, sessionid: 's1' }).attrs).toMatchObject({
      status: 'canceled',
      sessionid: 's1',
    });
    for (const condition of [
      'bad-action',
      'bad-sessionid',
      'malformed-action',
      'session-expired',
      'bad-payload',
    ] as const) {
      const child = buildAdhocErrorCondition(condition);
      expect(child.name).toBe(condition);
      expect(child.attrs.xmlns).toBe(NS_COMMANDS);
    }
  });

  it('refuses a response with a wrong status', () => {
    expect(
      parseCommandResponse(xml('command', { xmlns: NS_COMMANDS, node: NODE, status: 'done' })).ok,
    ).toBe(false);
    expect(parseCommandResponse(undefined).ok).toBe(false);
  });
});
