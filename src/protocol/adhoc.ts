import xml, { type Element } from '@xmpp/xml';
import { z } from 'zod';
import {
  buildForm,
  buildSubmitForm,
  type DataForm,
  type FormValues,
  parseForm,
  parseSubmittedForm,
} from './data-forms.js';
import { NS_COMMANDS, NS_X_DATA } from './namespaces.js';
import { fail, ok, type Parsed } from './result.js';

// XEP-0050 ad-hoc commands (PROTOCOL §4): the <command/> a client sends, and the three answers a
// single-stage command gives — the form stage, the completed result, the cancellation.

/** XEP-0050 §3.4 actions. */
export const ADHOC_ACTIONS = ['execute', 'complete', 'next', 'prev', 'cancel'] as const;
export type AdhocAction = (typeof ADHOC_ACTIONS)[number];

/** XEP-0050 §4.6 application-specific error conditions, sent beside a stanza error. */
export type AdhocErrorCondition =
  | 'bad-action' // modify/bad-request: the action is not allowed now (next/prev here)
  | 'bad-payload' // modify/bad-request: the submitted form is unusable
  | 'bad-sessionid' // modify/bad-request: no such session for this requester
  | 'malformed-action' // modify/bad-request: the action is not one XEP-0050 knows
  | 'session-expired'; // cancel/not-allowed: the session timed out

export interface AdhocRequest {
  node: string;
  /** Absent means `execute` to XEP-0050; Profanity also submits forms without it. */
  action: AdhocAction | undefined;
  sessionid: string | undefined;
  /** The values of a `<x type='submit'>`, if the request carried one. */
  form: FormValues | undefined;
}

/** A request the responder cannot read; `adhoc` says which XEP-0050 condition goes with it. */
export type AdhocRequestParsed =
  | { ok: true; value: AdhocRequest }
  | { ok: false; error: string; adhoc: AdhocErrorCondition | undefined };

const requestSchema = z.object({
  node: z.string().min(1, 'command/@node is required').max(256, 'command/@node is too long'),
  sessionid: z.string().min(1).max(128, 'command/@sessionid is too long').optional(),
});

/** XEP-0050 §3: reads `<command xmlns='http://jabber.org/protocol/commands'/>`. Never throws. */
export function parseCommandRequest(command: Element): AdhocRequestParsed {
  if (command.name !== 'command' || command.attrs.xmlns !== NS_COMMANDS) {
    return { ok: false, error: `expected <command xmlns='${NS_COMMANDS}'>`, adhoc: undefined };
  }
  const attrs = requestSchema.safeParse({
    node: command.attrs.node,
    sessionid: command.attrs.sessionid,
  });
  if (!attrs.success) {
    return {
      ok: false,
      error: attrs.error.issues[0]?.message ?? 'invalid command',
      adhoc: undefined,
    };
  }
  let action = command.attrs.action as string | undefined;
  if (action !== undefined && !(ADHOC_ACTIONS as readonly string[]).includes(action)) {
    return { ok: false, error: `unknown action '${action}'`, adhoc: 'malformed-action' };
  }
  const forms = command.getChildren('x', NS_X_DATA);
  // XEP-0004 §3.1: a `cancel` form means the requester gave up; we take it as the cancel action
  // (never as a submission, whatever XEP-0050 §4.1's wording, so that nothing runs by mistake).
  if (action === undefined && forms.some((x) => x.attrs.type === 'cancel')) action = 'cancel';
  // A client may send its own forms alongside; only a submission counts.
  const submitted = forms.find((x) => x.attrs.type === 'submit');
  let form: FormValues | undefined;
  if (submitted) {
    const parsed = parseSubmittedForm(submitted);
    if (!parsed.ok) return { ok: false, error: parsed.error, adhoc: 'bad-payload' };
    form = parsed.value;
  }
  return {
    ok: true,
    value: {
      node: attrs.data.node,
      action: action as AdhocAction | undefined,
      sessionid: attrs.data.sessionid,
      form,
    },
  };
}

/** XEP-0050 §3.4: the form stage of a single-stage command; `complete` is the only way on. */
export function buildFormStage(stage: {
  node: string;
  sessionid: string;
  form: DataForm;
}): Element {
  return xml(
    'command',
    { xmlns: NS_COMMANDS, node: stage.node, sessionid: stage.sessionid, status: 'executing' },
    xml('actions', { execute: 'complete' }, xml('complete')),
    buildForm(stage.form),
  );
}

/** XEP-0050 §3.4: the last stage — a result form and the same result as a note for people. */
export function buildCompleted(done: {
  node: string;
  sessionid: string;
  result: DataForm;
  note?: string;
}): Element {
  const children = [buildForm(done.result)];
  if (done.note) children.push(xml('note', { type: 'info' }, done.note));
  return xml(
    'command',
    { xmlns: NS_COMMANDS, node: done.node, sessionid: done.sessionid, status: 'completed' },
    ...children,
  );
}

/** XEP-0050 §3.4.3: the session is over, nothing was done. */
export function buildCanceled(canceled: { node: string; sessionid?: string }): Element {
  const attrs: Record<string, string> = {
    xmlns: NS_COMMANDS,
    node: canceled.node,
    status: 'canceled',
  };
  if (canceled.sessionid) attrs.sessionid = canceled.sessionid;
  return xml('command', attrs);
}

/** XEP-0050 §4.6: the child that goes into <error/> beside the stanza error condition. */
export function buildAdhocErrorCondition(condition: AdhocErrorCondition): Element {
  return xml(condition, { xmlns: NS_COMMANDS });
}

// The requester's side, for programs that run commands (the presence service, tests).

/** A request as a client sends it; `form` becomes a `<x type='submit'>`. */
export function buildCommandRequest(request: {
  node: string;
  action?: AdhocAction;
  sessionid?: string;
  form?: FormValues;
}): Element {
  const attrs: Record<string, string> = { xmlns: NS_COMMANDS, node: request.node };
  if (request.action) attrs.action = request.action;
  if (request.sessionid) attrs.sessionid = request.sessionid;
  return xml('command', attrs, ...(request.form ? [buildSubmitForm(request.form)] : []));
}

export interface AdhocResponse {
  node: string;
  sessionid: string | undefined;
  status: 'executing' | 'completed' | 'canceled';
  form: DataForm | undefined;
  notes: Array<{ type: string; text: string }>;
  /** XEP-0050 §3.4 <actions/>: the default action and the allowed ones. */
  actions: { execute: string | undefined; allowed: string[] } | undefined;
}

/** Reads a responder's <command/>. Never throws. */
export function parseCommandResponse(command: Element | undefined): Parsed<AdhocResponse> {
  if (command?.name !== 'command' || command.attrs.xmlns !== NS_COMMANDS) {
    return fail(`expected <command xmlns='${NS_COMMANDS}'>`);
  }
  const status = command.attrs.status;
  if (status !== 'executing' && status !== 'completed' && status !== 'canceled') {
    return fail(`command/@status '${status ?? ''}' is not one of executing, completed, canceled`);
  }
  const x = command.getChild('x', NS_X_DATA);
  let form: DataForm | undefined;
  if (x) {
    const parsed = parseForm(x);
    if (!parsed.ok) return fail(parsed.error);
    form = parsed.value;
  }
  const actionsEl = command.getChild('actions');
  return ok({
    node: String(command.attrs.node ?? ''),
    sessionid: command.attrs.sessionid as string | undefined,
    status,
    form,
    notes: command
      .getChildren('note')
      .map((n) => ({ type: String(n.attrs.type ?? 'info'), text: n.getText() })),
    actions: actionsEl
      ? {
          execute: actionsEl.attrs.execute as string | undefined,
          allowed: actionsEl.getChildElements().map((c) => c.name),
        }
      : undefined,
  });
}
