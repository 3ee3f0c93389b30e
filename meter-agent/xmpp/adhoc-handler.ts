import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import {
  type AdhocErrorCondition,
  buildAdhocErrorCondition,
  buildCanceled,
  buildCompleted,
  buildFormStage,
  parseCommandRequest,
} from '../../src/protocol/adhoc.js';
import { CMD_NODE_PREFIX, NS_COMMANDS } from '../../src/protocol/namespaces.js';
import { type StanzaErrorType, stanzaError } from '../../src/xmpp/stanza-errors.js';
import type { AdhocSessions } from '../commands/adhoc-sessions.js';
import { CommandError, type CommandErrorCondition } from '../commands/command.js';
import type { CommandRequest, Dispatcher, DispatchOutcome } from '../commands/dispatcher.js';

// PROTOCOL §4, the XEP-0050 front door. Each command is single-stage: `execute` without a form
// opens a session and returns the form; a submission — with action complete, execute or none
// (Profanity sends none), with the session's id or in the very first request (programs such as
// the presence service) — runs it and returns the result form. `complete` without a form runs
// it with no values (read and pq need none). Everything else goes through the dispatcher.

/** Requests larger than this are refused unread (a command form is a few hundred bytes). */
export const MAX_COMMAND_REQUEST_BYTES = 4096;

/** STYLE §5: the one place command failures become stanza errors (RFC 6120 §8.3.3). */
export const COMMAND_ERROR_TYPES: Record<CommandErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'item-not-found': 'cancel',
  'feature-not-implemented': 'cancel',
  'internal-server-error': 'cancel',
  // PROTOCOL §2 asks for auth/forbidden (XEP-0050's table says cancel; the contract wins).
  forbidden: 'auth',
  'resource-constraint': 'wait',
};

export function answerAdhocCommands(deps: {
  xmpp: Client;
  dispatcher: Dispatcher;
  sessions: AdhocSessions;
  logger: Logger;
}): void {
  const { xmpp, dispatcher, sessions, logger } = deps;

  xmpp.iqCallee.set(NS_COMMANDS, 'command', async (ctx: { stanza: Element; element: Element }) => {
    const from = String(ctx.stanza.attrs.from ?? '');
    const answer = await handle(from, ctx.element, Buffer.byteLength(ctx.stanza.toString()));
    logger.debug({ from, node: ctx.element.attrs.node }, 'ad-hoc request answered');
    return answer;
  });

  async function handle(from: string, element: Element, size: number): Promise<Element> {
    const parsed = parseCommandRequest(element);
    const node = parsed.ok ? parsed.value.node : String(element.attrs.node ?? '');
    const base = {
      from,
      via: 'adhoc' as const,
      name: nameOfNode(node),
      raw: parsed.ok ? (parsed.value.form ?? {}) : {},
    };
    // A refusal decided here still passes the dispatcher: rate limit, ACL and audit first.
    const refuse = async (error: CommandError, adhoc?: AdhocErrorCondition) => {
      const outcome = await dispatcher.dispatch({ ...base, stage: 'run', refusal: error });
      if (outcome.ok) throw new Error('a refusal was carried out'); // cannot happen
      return errorElement(outcome.error, outcome.error === error ? adhoc : undefined);
    };

    if (size > MAX_COMMAND_REQUEST_BYTES) {
      return refuse(
        new CommandError(
          'not-acceptable',
          `request larger than ${MAX_COMMAND_REQUEST_BYTES} bytes`,
        ),
      );
    }
    if (!parsed.ok) return refuse(new CommandError('bad-request', parsed.error), parsed.adhoc);
    const request = parsed.value;

    if (request.action === 'cancel') {
      const outcome = await dispatcher.dispatch({ ...base, stage: 'cancel' });
      if (!outcome.ok) return errorElement(outcome.error);
      if (request.sessionid) sessions.close(request.sessionid, from);
      return buildCanceled({ node, sessionid: request.sessionid });
    }
    if (request.action === 'next' || request.action === 'prev') {
      return refuse(
        new CommandError('bad-request', `a single-stage command has no '${request.action}'`),
        'bad-action',
      );
    }

    if (request.sessionid !== undefined) {
      const session = sessions.check(request.sessionid, node, from);
      if (session === 'unknown') {
        return refuse(new CommandError('bad-request', 'no such session of yours'), 'bad-sessionid');
      }
      if (session === 'expired') {
        return refuse(new CommandError('not-allowed', 'the session expired'), 'session-expired');
      }
      return run(base, node, request.sessionid);
    }
    if (request.form !== undefined || request.action === 'complete') {
      // One-shot: no form stage, so no stored session; the answer still carries an id.
      return run(base, node, undefined);
    }

    // The form stage.
    const outcome = await dispatcher.dispatch({ ...base, stage: 'form' });
    if (!outcome.ok) return errorElement(outcome.error);
    const sessionid = sessions.open(node, from);
    return buildFormStage({ node, sessionid, form: { type: 'form', ...outcome.command.form() } });
  }

  async function run(
    base: Omit<CommandRequest, 'stage'>,
    node: string,
    sessionid: string | undefined,
  ): Promise<Element> {
    const outcome: DispatchOutcome = await dispatcher.dispatch({ ...base, stage: 'run' });
    if (!outcome.ok) {
      // A wrong value can be corrected and submitted again in the same session.
      if (sessionid && outcome.error.condition !== 'bad-request')
        sessions.close(sessionid, base.from);
      return errorElement(outcome.error);
    }
    if (sessionid) sessions.close(sessionid, base.from);
    const result = outcome.result;
    if (!result) throw new Error('a run without a result'); // cannot happen
    return buildCompleted({
      node,
      sessionid: sessionid ?? sessions.newId(),
      result: { type: 'result', title: result.title, fields: result.fields },
      note: result.text,
    });
  }
}

/** `urn:gridpresence:cmd:relay` → `relay`; any other node is kept as asked (and not found). */
export function nameOfNode(node: string): string {
  return node.startsWith(CMD_NODE_PREFIX) ? node.slice(CMD_NODE_PREFIX.length) : node;
}

function errorElement(error: CommandError, adhoc?: AdhocErrorCondition): Element {
  const element = stanzaError(COMMAND_ERROR_TYPES[error.condition], error.condition, error.message);
  if (adhoc) element.append(buildAdhocErrorCondition(adhoc));
  return element;
}
