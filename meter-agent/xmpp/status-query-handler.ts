import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import { NS_METER } from '../../src/protocol/namespaces.js';
import { buildStatusAnswer } from '../../src/protocol/status-query.js';
import { forbidden } from '../../src/xmpp/stanza-errors.js';
import type { Acl } from '../security/acl.js';

// PROTOCOL §3: the status query, answered with the <meter/> of the last presence. Reading the
// status needs the viewer role (PROTOCOL §2); others get auth/forbidden.

export function answerStatusQueries(deps: {
  xmpp: Client;
  acl: Acl;
  logger: Logger;
  /** The status to answer with; a promise when its seq must reach the disk first. */
  currentStatus: () => MeterStatus | Promise<MeterStatus>;
}) {
  const { xmpp, acl, logger, currentStatus } = deps;
  xmpp.iqCallee.get(NS_METER, 'status', async (ctx: { stanza: Element }) => {
    const from = String(ctx.stanza.attrs.from ?? '');
    if (!acl.allows(from, 'viewer')) {
      logger.warn({ from }, 'status query refused: not in the ACL');
      return forbidden('status needs the viewer role');
    }
    return buildStatusAnswer(await currentStatus());
  });
}
