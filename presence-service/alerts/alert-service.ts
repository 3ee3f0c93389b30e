import type { Logger } from '../../src/log.js';
import type { AlertsConfig } from '../config.js';
import type { ChangeBus } from '../presence/change-bus.js';
import type { RecordedChange } from '../store/presence-store.js';
import {
  type AlertDecision,
  type AlertDelivery,
  type AlertKind,
  type AlertNotice,
  createAlertPolicy,
  type PolicyOutput,
  type Recipient,
} from './alert-policy.js';
import type { AlertStore } from './alert-store.js';

// Alerts to operators, the running part (issue 4 §5, docs/liveness.md): follows the change bus,
// lets the policy decide, stores every alert with its delivery (so held-back ones are open in
// the API and in chat), and sends the due ones by XMPP chat and, if configured, e-mail. Sending
// never blocks the presence path: the bus is synchronous, so sends are started, not awaited,
// and a failed send is logged (the alert stays open in the store either way).

/** How often flapping meters are checked for calm and held-back summaries sent. */
export const ALERT_TICK_MS = 5_000;

export interface AlertService {
  start(): void;
  stop(): void;
  /** One policy tick now (the timer calls it; tests too). */
  tick(): void;
}

export interface AlertServiceDeps {
  config: AlertsConfig;
  bus: Pick<ChangeBus, 'subscribe'>;
  store: Pick<AlertStore, 'insert'>;
  /** A chat message from the component to a bare JID (createAlertSender). */
  send: (to: string, text: string) => Promise<void>;
  /** Without it, `config.email` recipients are skipped (with a warning at start). */
  sendEmail?: (to: string, subject: string, text: string) => Promise<void>;
  now?: () => Date;
  tickEveryMs?: number;
  logger: Logger;
  /** Told of every alert raised, sent or held back (metrics); optional. */
  onAlert?: (kind: AlertKind, delivery: AlertDelivery) => void;
  /** Told of every message to a recipient that could not be sent (metrics); optional. */
  onSendFailed?: (channel: Recipient['channel']) => void;
}

/** The chat line of an alert: `ALERT 17: mtr-0007 decoupled (no-response) at …Z. Reply "ack 17".` */
export function alertMessage(id: number, text: string): string {
  return `ALERT ${id}: ${text}. Reply "ack ${id}".`;
}

/** E-mail replies are not read: the mail says where an acknowledgement goes instead. */
export function alertMail(id: number, text: string): { subject: string; text: string } {
  return {
    subject: `ALERT ${id}: ${text}`.slice(0, 150),
    text:
      `ALERT ${id}: ${text}.\n\nAcknowledge it by XMPP chat to the presence service ` +
      `("ack ${id}") or with POST /api/alerts/${id}/ack. Replies to this e-mail are not read.\n`,
  };
}

export function createAlertService(deps: AlertServiceDeps): AlertService {
  const { config, store, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const recipients: Recipient[] = config.xmpp.map((address) => ({ channel: 'xmpp', address }));
  if (deps.sendEmail) {
    for (const address of config.email) recipients.push({ channel: 'email', address });
  } else if (config.email.length > 0) {
    logger.warn({ email: config.email }, 'e-mail alerts configured but no mail sender: skipped');
  }
  const policy = createAlertPolicy(config, recipients);
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  function onChange(change: RecordedChange): void {
    // The bus swallows a listener's error; ours must at least reach the log.
    try {
      deliver(policy.onChange(change, now()));
    } catch (error) {
      logger.error({ err: (error as Error).message, meterId: change.meterId }, 'alerting failed');
    }
  }

  function tick(): void {
    try {
      deliver(policy.tick(now()));
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'alert tick failed');
    }
  }

  function deliver(output: PolicyOutput): void {
    // Summaries come first: they were owed before anything raised now.
    for (const notice of output.notices) sendNotice(notice);
    for (const decision of output.alerts) raise(decision);
  }

  function raise(decision: AlertDecision): void {
    const { to, ...alert } = decision;
    const id = store.insert(alert);
    deps.onAlert?.(alert.kind, alert.delivery);
    const fields = { alertId: id, meterId: alert.meterId, kind: alert.kind };
    if (alert.delivery === 'sent' || alert.delivery === 'rate-limited') {
      logger.info({ ...fields, delivery: alert.delivery, recipients: to.length }, alert.text);
    } else {
      logger.debug({ ...fields, delivery: alert.delivery }, alert.text);
    }
    const mail = alertMail(id, alert.text);
    for (const recipient of to) {
      if (recipient.channel === 'xmpp')
        dispatch(recipient, deps.send, alertMessage(id, alert.text));
      else dispatch(recipient, deps.sendEmail, mail.subject, mail.text);
    }
  }

  function sendNotice(notice: AlertNotice): void {
    logger.info({ kind: notice.kind, meterId: notice.meterId }, notice.text);
    const subject =
      notice.kind === 'stable' ? `${notice.meterId} stable again` : 'alerts held back';
    for (const recipient of notice.to) {
      if (recipient.channel === 'xmpp') dispatch(recipient, deps.send, notice.text);
      else dispatch(recipient, deps.sendEmail, subject, notice.text);
    }
  }

  function dispatch<A extends string[]>(
    recipient: Recipient,
    sender: ((to: string, ...args: A) => Promise<void>) | undefined,
    ...args: A
  ): void {
    if (!sender) return;
    const failed = (error: Error) => {
      deps.onSendFailed?.(recipient.channel);
      logger.warn(
        { err: error.message, channel: recipient.channel, to: recipient.address },
        'alert message not sent; the alert stays open in the API',
      );
    };
    try {
      sender(recipient.address, ...args).catch(failed);
    } catch (error) {
      failed(error as Error); // a sender that throws at once (e.g. the component is offline)
    }
  }

  return {
    start() {
      if (unsubscribe) return;
      unsubscribe = deps.bus.subscribe(onChange);
      timer = setInterval(tick, deps.tickEveryMs ?? ALERT_TICK_MS);
      // Alerts alone must not keep the process alive (STYLE §8: stop() releases it anyway).
      timer.unref();
    },
    stop() {
      unsubscribe?.();
      unsubscribe = undefined;
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    tick,
  };
}
