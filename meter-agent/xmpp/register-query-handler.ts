import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { buildRegisterAnswer, parseRegisterQuery } from '../../src/protocol/data.js';
import { NS_DATA } from '../../src/protocol/namespaces.js';
import { badRequest, stanzaError } from '../../src/xmpp/stanza-errors.js';
import type { Dispatcher } from '../commands/dispatcher.js';
import { COMMAND_ERROR_TYPES } from './adhoc-handler.js';

// The register query: `<iq type='get'><reading xmlns='urn:gridpresence:data:1'/></iq>`, answered
// with a <reading/> of the current values, so a program reads registers without scraping a
// form or a chat line. It runs the `read` command through the dispatcher: the same role
// (viewer), rate limit and audit entry as the other doors.

export function answerRegisterQueries(deps: {
  xmpp: Client;
  dispatcher: Dispatcher;
  now: () => Date;
  logger: Logger;
}): void {
  const { xmpp, dispatcher, now } = deps;
  xmpp.iqCallee.get(NS_DATA, 'reading', async (ctx: { stanza: Element; element: Element }) => {
    const parsed = parseRegisterQuery(ctx.element);
    if (!parsed.ok) return badRequest(parsed.error);
    const outcome = await dispatcher.dispatch({
      from: String(ctx.stanza.attrs.from ?? ''),
      via: 'iq',
      name: 'read',
      raw: { registers: parsed.value },
      stage: 'run',
    });
    if (!outcome.ok) {
      const { condition, message } = outcome.error;
      return stanzaError(COMMAND_ERROR_TYPES[condition], condition, message);
    }
    return buildRegisterAnswer({
      ts: now().toISOString(),
      values: outcome.result?.registers ?? [],
    });
  });
}
