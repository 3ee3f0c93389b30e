import type { Component } from '@xmpp/component';
import xml, { type Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { type Role, roleAtLeast } from '../../src/protocol/commands.js';
import { bareJid, splitJid } from '../../src/protocol/meter-id.js';
import { NS_DELAY } from '../../src/protocol/namespaces.js';
import { utcSecond } from '../alerts/alert-policy.js';
import type { AlertRecord, AlertStore } from '../alerts/alert-store.js';
import { refusalLine } from '../groups/group-replies.js';

// The alert chat door (issue 4 §5, docs/liveness.md): operators answer alerts by chat to the
// service's bare JID, presence.<domain> (groups live at <group>@presence.<domain>, handled by
// group-chat-handler.ts, so the two never see the same message). Lines: `ack 17`, `ack all`,
// `alerts`, `help`. Answers are one `chat` message from the service's JID, keeping the thread.
// Only alert recipients and ACL operators or admins may use it; a stranger gets one refusal
// line and learns nothing (PROTOCOL §2). Never answered: other message types (RFC 6121 §5.2.2;
// errors never, RFC 6120 §8.3.1), messages without a body (chat states), meters (no bot loops),
// and senders without a local part (servers and components are not operators).

export const MAX_ALERT_CHAT_BODY_BYTES = 4096;
/** Open alerts listed by `alerts`; the rest are in the API. */
export const ALERTS_LISTED = 20;
export const ALERT_CHAT_HINT = "Unknown command. Send 'help' for the list.";

export type AlertChatCommand =
  | { kind: 'help' }
  | { kind: 'alerts' }
  | { kind: 'ack'; id: number }
  | { kind: 'ack-all' }
  | { kind: 'unknown' };

/** Reads one chat line; case and extra spaces do not matter, `ack #17` is `ack 17`. */
export function parseAlertCommand(body: string): AlertChatCommand {
  const line = body.trim().toLowerCase().replace(/\s+/g, ' ');
  if (line === 'help') return { kind: 'help' };
  if (line === 'alerts') return { kind: 'alerts' };
  if (line === 'ack all') return { kind: 'ack-all' };
  const ack = /^ack #?(\d{1,15})$/.exec(line);
  return ack ? { kind: 'ack', id: Number(ack[1]) } : { kind: 'unknown' };
}

/** Who may acknowledge: the configured alert recipients, and ACL operators and admins. */
export function alertAckers(deps: {
  recipients: readonly string[];
  roleOf: (jid: string) => Role | null;
}): (jid: string) => boolean {
  const recipients = new Set(deps.recipients.map((jid) => jid.toLowerCase()));
  return (jid) => {
    if (recipients.has(bareJid(jid))) return true;
    const role = deps.roleOf(jid);
    return role !== null && roleAtLeast(role, 'operator');
  };
}

/** Sends an alert line as `<message type='chat' from=component to=recipient>`. */
export function createAlertSender(deps: {
  xmpp: Pick<Component, 'send'>;
  componentJid: string;
}): (to: string, text: string) => Promise<void> {
  return async (to, text) => {
    await deps.xmpp.send(
      xml('message', { from: deps.componentJid, to, type: 'chat' }, xml('body', {}, text)),
    );
  };
}

export function answerAlertChat(deps: {
  xmpp: Component;
  componentJid: string;
  /** The meters' domain: their accounts are never answered. */
  domain: string;
  mayAck: (jid: string) => boolean;
  isMeter: (meterId: string) => boolean;
  store: Pick<AlertStore, 'ack' | 'ackAll' | 'open' | 'countOpen'>;
  logger: Logger;
  now?: () => Date;
}): { stop(): void } {
  const { xmpp, store, logger } = deps;
  const componentJid = deps.componentJid.toLowerCase();
  const now = deps.now ?? (() => new Date());

  const onStanza = (stanza: Element) => {
    if (!stanza.is('message') || stanza.attrs.type !== 'chat') return;
    const to = splitJid(String(stanza.attrs.to ?? ''));
    if (to.domain !== componentJid || to.local !== undefined) return;
    handle(stanza).catch((error: Error) =>
      logger.error({ err: error.message }, 'alert chat command failed'),
    );
  };
  xmpp.on('stanza', onStanza);

  async function handle(message: Element): Promise<void> {
    const from = message.attrs.from as string | undefined;
    const body = message.getChildText('body');
    if (!from || body === null || body.trim() === '') return;
    const sender = splitJid(from);
    if (sender.local === undefined) return;
    if (sender.domain === deps.domain && deps.isMeter(sender.local)) return;
    const say = (text: string) => reply(message, text);

    if (!deps.mayAck(from)) {
      logger.warn({ from }, 'alert command refused: not a recipient or operator');
      return say(refusalLine('forbidden', 'not authorised to handle alerts here'));
    }
    if (Buffer.byteLength(body) > MAX_ALERT_CHAT_BODY_BYTES) {
      return say(
        refusalLine('not-acceptable', `message longer than ${MAX_ALERT_CHAT_BODY_BYTES} bytes`),
      );
    }
    const command = parseAlertCommand(body);
    if (command.kind === 'unknown') return say(ALERT_CHAT_HINT);
    if (command.kind === 'help') return say(alertHelp(componentJid));
    if (command.kind === 'alerts') return say(openAlertsText(store));
    // XEP-0203: sent while we were away. A late `ack all` would acknowledge alerts raised after
    // the operator typed it, which nobody has seen: refuse, as late group commands are.
    if (message.getChild('delay', NS_DELAY)) {
      return say(
        refusalLine('not-allowed', 'sent while the service was offline; not done, send it again'),
      );
    }
    const by = bareJid(from);
    const at = now().toISOString();
    if (command.kind === 'ack-all') {
      const count = store.ackAll(by, at);
      logger.info({ by, count }, 'open alerts acknowledged');
      return say(count === 0 ? 'No open alerts.' : `Acknowledged ${plural(count, 'open alert')}.`);
    }
    const result = store.ack(command.id, by, at);
    if (result.outcome === 'unknown') {
      return say(`No alert ${command.id}. Send "alerts" for the open ones.`);
    }
    const { alert } = result;
    if (result.outcome === 'already-acked') {
      return say(
        `Alert ${alert.id} was already acknowledged by ${alert.ackedBy} at ` +
          `${utcSecond(alert.ackedAt ?? at)}.`,
      );
    }
    logger.info({ alertId: alert.id, meterId: alert.meterId, by }, 'alert acknowledged');
    return say(`Alert ${alert.id} acknowledged: ${alert.text}.`);
  }

  /** From the service's JID, keeping the conversation's thread (RFC 6121 §5.2.5). */
  async function reply(to: Element, text: string): Promise<void> {
    const thread = to.getChild('thread');
    try {
      await xmpp.send(
        xml(
          'message',
          { from: componentJid, to: to.attrs.from, type: 'chat' },
          xml('body', {}, text),
          ...(thread ? [xml('thread', {}, thread.getText())] : []),
        ),
      );
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'alert chat answer not sent');
    }
  }

  return {
    stop() {
      xmpp.removeListener('stanza', onStanza);
    },
  };
}

function alertHelp(componentJid: string): string {
  return [
    `Alerts from ${componentJid}: a meter decoupled, recovered, or flapping. Send:`,
    'alerts — the open alerts, newest first',
    'ack <id> — acknowledge one alert, e.g. ack 17',
    'ack all — acknowledge every open alert',
    'help — this text',
  ].join('\n');
}

function openAlertsText(store: Pick<AlertStore, 'open' | 'countOpen'>): string {
  const total = store.countOpen();
  if (total === 0) return 'No open alerts.';
  const lines = store.open(ALERTS_LISTED).map(alertLine);
  const more = total - lines.length;
  return [
    `${plural(total, 'open alert')}, newest first:`,
    ...lines,
    ...(more > 0 ? [`… and ${more} more: GET /api/alerts?open=true`] : []),
  ].join('\n');
}

function alertLine(alert: AlertRecord): string {
  const held = alert.delivery === 'rate-limited' ? ' (held back)' : '';
  return `#${alert.id} ${alert.text}${held}`;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
