import type { Component } from '@xmpp/component';
import xml, { type Element } from '@xmpp/xml';
import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { parseChatLine } from '../../src/protocol/chat-commands.js';
import {
  isAdhocCommandName,
  isExtensionCommandName,
  type Role,
} from '../../src/protocol/commands.js';
import { bareJid, isMeterId, splitJid } from '../../src/protocol/meter-id.js';
import { NS_DELAY } from '../../src/protocol/namespaces.js';
import { type GroupCommands, mayRun } from '../groups/group-commands.js';
import {
  describeGroupStatus,
  GROUP_CHAT_HINT,
  groupHelp,
  refusalLine,
  startedLine,
  summaryLine,
  unknownGroupLine,
} from '../groups/group-replies.js';
import type { GroupDirectory } from '../store/group-directory.js';

// PROTOCOL §5 and §7, the group chat door: a `chat` message to <group>@presence.<domain> whose
// body is a §5 line runs that command on every member. The sender is answered at once ("running
// read on 50 meters…") and, when every member has answered or timed out, with ONE summary, both
// from the group's JID. Roles are checked here, before anything runs: the meters see only the
// service (an operator to them), so this door is where a viewer's `relay` must stop.
// Never answered: other message types (RFC 6121 §5.2.2; errors never, RFC 6120 §8.3.1),
// messages without a body (chat states), and messages from meters (no bot loops).

export const MAX_GROUP_CHAT_BODY_BYTES = 4096;

export function answerGroupChat(deps: {
  xmpp: Component;
  componentJid: string;
  /** The meters' domain: their accounts never command groups. */
  domain: string;
  roleOf: (jid: string) => Role | null;
  isMeter: (meterId: string) => boolean;
  directory: Pick<GroupDirectory, 'get'>;
  commands: GroupCommands;
  logger: Logger;
}): { stop(): void } {
  const { xmpp, directory, commands, logger } = deps;
  const componentJid = deps.componentJid.toLowerCase();

  const onStanza = (stanza: Element) => {
    if (!stanza.is('message') || stanza.attrs.type !== 'chat') return;
    const to = splitJid(String(stanza.attrs.to ?? ''));
    if (to.domain !== componentJid || to.local === undefined) return;
    handle(stanza, to.local).catch((error: Error) =>
      logger.error({ err: error.message }, 'group chat command failed'),
    );
  };
  xmpp.on('stanza', onStanza);

  async function handle(message: Element, group: string): Promise<void> {
    const from = message.attrs.from as string | undefined;
    const body = message.getChildText('body');
    if (!from || body === null || body.trim() === '') return;
    const sender = splitJid(from);
    if (sender.domain === deps.domain && sender.local && deps.isMeter(sender.local)) return;
    const say = (text: string) => reply(message, group, text);

    // PROTOCOL §2: a stranger learns nothing, not even whether the group exists.
    const role = deps.roleOf(from);
    if (role === null) {
      logger.warn({ from, group }, 'group command refused: not in the ACL');
      return say(refusalLine('forbidden', 'not authorised to command groups here'));
    }
    if (Buffer.byteLength(body) > MAX_GROUP_CHAT_BODY_BYTES) {
      return say(
        refusalLine('not-acceptable', `message longer than ${MAX_GROUP_CHAT_BODY_BYTES} bytes`),
      );
    }
    const line = parseChatLine(body);
    // The agent's own extensions (docs/protocol.md, `log`) are not group commands.
    if (line.kind === 'unknown' || isExtensionCommandName(line.name)) return say(GROUP_CHAT_HINT);
    const refusal = mayRun(role, line.name);
    if (refusal) {
      logger.warn({ from, group, command: line.name }, `group command refused: ${refusal.message}`);
      return say(refusalLine(refusal.condition, refusal.message));
    }
    if (line.name === 'help') return say(groupHelp(group, role));
    const summary = isMeterId(group) ? directory.get(group) : undefined;
    if (!summary) return say(unknownGroupLine(group));
    if (line.name === 'status') return say(describeGroupStatus(summary));
    if (!isAdhocCommandName(line.name)) return say(GROUP_CHAT_HINT);
    // XEP-0203: sent while we were away. Operating relays late is worse than not at all.
    if (message.getChild('delay', NS_DELAY)) {
      return say(
        refusalLine(
          'not-allowed',
          'sent while the service was offline; not carried out, send it again',
        ),
      );
    }

    let job: ReturnType<GroupCommands['start']>;
    try {
      job = commands.start(group, line.name, line.raw, bareJid(from), 'chat');
    } catch (error) {
      if (!(error instanceof GridpresenceError)) throw error;
      if (error.code === ERROR_CODES.GROUP_UNKNOWN) return say(unknownGroupLine(group));
      return say(refusalLine('resource-constraint', error.message));
    }
    await say(startedLine(line.name, job.members.length, job.jobId));
    await say(summaryLine(await job.done, job.jobId));
  }

  /** From the group's JID, keeping the conversation's thread (RFC 6121 §5.2.5). */
  async function reply(to: Element, group: string, text: string): Promise<void> {
    const thread = to.getChild('thread');
    try {
      await xmpp.send(
        xml(
          'message',
          { from: `${group}@${componentJid}`, to: to.attrs.from, type: 'chat' },
          xml('body', {}, text),
          ...(thread ? [xml('thread', {}, thread.getText())] : []),
        ),
      );
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'group chat answer not sent');
    }
  }

  return {
    stop() {
      xmpp.removeListener('stanza', onStanza);
    },
  };
}
