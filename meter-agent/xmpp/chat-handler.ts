import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { parseChatLine } from '../../src/protocol/chat-commands.js';
import { bareJid } from '../../src/protocol/meter-id.js';
import { NS_DELAY } from '../../src/protocol/namespaces.js';
import { stanzaError } from '../../src/xmpp/stanza-errors.js';
import { CommandError } from '../commands/command.js';
import type { CommandRequest, Dispatcher } from '../commands/dispatcher.js';
import { clip } from '../commands/field-values.js';

// PROTOCOL §5, the chat front door: a `chat` message whose body is one of the command lines runs
// that command through the dispatcher (same roles, same audit) and is answered with a `chat`
// message in plain text; a refusal is one line; anything else gets a hint to send `help`.
// What is never answered: messages of other types (normal messages are the data channel),
// messages without a body (chat states), errors (RFC 6120 §8.3.1: never answer an error), our
// own account's, and the presence service's unless the body is a command (no bot loops).

export const MAX_CHAT_BODY_BYTES = 4096;
export const CHAT_HINT = "Unknown command. Send 'help' for the list.";

export function answerChatCommands(deps: {
  xmpp: Client;
  dispatcher: Dispatcher;
  /** The presence service's JID (PROTOCOL "Names"). */
  serviceJid: string;
  /** The meter's own bare JID. */
  ownJid: string;
  logger: Logger;
}): { stop(): void } {
  const { xmpp, dispatcher, logger } = deps;
  const service = bareJid(deps.serviceJid);
  const own = bareJid(deps.ownJid);

  const onStanza = (stanza: Element) => {
    if (!stanza.is('message') || stanza.attrs.type !== 'chat') return;
    handle(stanza).catch((error: Error) =>
      logger.error({ err: error.message }, 'chat command failed'),
    );
  };
  xmpp.on('stanza', onStanza);

  async function handle(message: Element): Promise<void> {
    const from = message.attrs.from as string | undefined;
    const body = message.getChildText('body');
    if (!from || body === null || body.trim() === '') return;
    const sender = bareJid(from);
    if (sender === own) return;

    const request: CommandRequest = { from, via: 'chat', name: 'unknown', raw: {}, stage: 'run' };
    if (Buffer.byteLength(body) > MAX_CHAT_BODY_BYTES) {
      request.refusal = new CommandError(
        'not-acceptable',
        `message longer than ${MAX_CHAT_BODY_BYTES} bytes`,
      );
    } else {
      const line = parseChatLine(body);
      if (line.kind === 'unknown') {
        if (sender === service) return;
        request.raw = { line: [clip(body.trim(), 200)] };
      } else {
        request.name = line.name;
        request.raw = line.raw;
        // XEP-0203: stored while the meter was offline. Operating a relay hours late is worse
        // than not at all: the sender is told to send it again.
        if (message.getChild('delay', NS_DELAY)) {
          request.refusal = new CommandError(
            'not-allowed',
            'sent while the meter was offline; not carried out, send it again',
          );
        }
      }
    }

    const outcome = await dispatcher.dispatch(request);
    if (outcome.ok) {
      await reply(message, outcome.result?.text ?? 'Done.');
      return;
    }
    if (outcome.repeated) return; // one answer per run of rate-limit refusals
    const { error } = outcome;
    if (error.condition === 'not-acceptable') {
      await send(
        xml(
          'message',
          { to: from, type: 'error', ...(message.attrs.id ? { id: message.attrs.id } : {}) },
          stanzaError('modify', 'not-acceptable', error.message),
        ),
      );
      return;
    }
    if (error.condition === 'item-not-found') {
      await reply(message, CHAT_HINT);
      return;
    }
    await reply(message, refusalLine(error));
  }

  async function reply(to: Element, text: string): Promise<void> {
    const thread = to.getChild('thread');
    await send(
      xml(
        'message',
        { to: to.attrs.from, type: 'chat' },
        xml('body', {}, text),
        // RFC 6121 §5.2.5: a reply keeps the conversation's thread.
        ...(thread ? [xml('thread', {}, thread.getText())] : []),
      ),
    );
  }

  async function send(stanza: Element): Promise<void> {
    try {
      await xmpp.send(stanza);
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'chat answer not sent');
    }
  }

  return {
    stop() {
      xmpp.removeListener('stanza', onStanza);
    },
  };
}

/** PROTOCOL §2: a refusal in chat is one line. */
export function refusalLine(error: CommandError): string {
  return `Refused (${error.condition}): ${error.message.replace(/\s*\n\s*/g, ' ')}`;
}
