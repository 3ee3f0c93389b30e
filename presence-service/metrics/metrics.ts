import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { COMMAND_NAMES } from '../../src/protocol/commands.js';
import type { DataKind } from '../../src/protocol/data.js';
import { METER_STATES, type MeterState } from '../../src/protocol/states.js';
import type { AlertDelivery, AlertKind } from '../alerts/alert-policy.js';
import type { CommandOutcome } from '../commands/command-client.js';
import type { RecordResult } from '../data/data-store.js';
import type { BacklogSummary } from '../data/outbox-backlog.js';
import type { EmailPollFate } from '../email/email-poller.js';
import type { LivenessVerdict } from '../liveness/liveness-monitor.js';
import type { EmailRejectReason } from '../store/email-poll-store.js';
import { POLL_RESULTS, type PollKind, type PollResult } from '../store/poll-store.js';
import type { ChangeSource, RecordedChange } from '../store/presence-store.js';

// The service's Prometheus metrics (docs/metrics.md), in a registry of their own (never
// prom-client's global one, so tests and a second service in one process do not collide). The
// modules that see things happen take optional hooks (`onResult`, `onVerdict`, …) and main.ts
// connects them to the methods below; what is cheaper to read than to follow (meters per state,
// the agents' outbox backlog) is read from its source at each scrape.
//
// Label values are closed sets, so a misbehaving peer cannot grow the series without bound.

export const METRIC_PREFIX = 'gridpresence_';

/** Read at every scrape. */
export interface MetricsSources {
  /** Registered meters per state (PresenceStore.counts: never seen counts as decoupled). */
  meterCounts(): Record<MeterState, number>;
  /** The latest outbox backlog the agents reported (createOutboxBacklog().summary). */
  outboxBacklog?(): BacklogSummary;
  /** Whether the component is online now. */
  xmppOnline?(): boolean;
}

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop, GC), prefixed; default true. */
  processMetrics?: boolean;
}

export interface Metrics {
  /** The registry; scrape it with exposition(). */
  readonly registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** The text exposition format, collecting the scrape-time gauges first. */
  exposition(): Promise<string>;
  /** A recorded change (subscribe it to the change bus). */
  stateChanged(change: Pick<RecordedChange, 'state' | 'source'>): void;
  /** A protocol error recorded for a meter (presence, data or e-mail reply). */
  protocolError(): void;
  pollResult(kind: PollKind, result: PollResult): void;
  /** A command to a meter finished (command-client's onFinished). */
  commandFinished(command: string, outcome: CommandOutcome['kind'], seconds: number): void;
  /** The component's session came back after it was lost. */
  xmppReconnected(): void;
  livenessVerdict(verdict: LivenessVerdict): void;
  alertRaised(kind: AlertKind, delivery: AlertDelivery): void;
  alertSendFailed(channel: 'xmpp' | 'email'): void;
  emailPoll(outcome: EmailPollFate): void;
  emailReplyRejected(reason: EmailRejectReason): void;
  /** A data item from a meter and what became of it. */
  dataItem(kind: DataKind, result: RecordResult['status']): void;
  /** One HTTP request; `route` is the route's pattern (`/api/meters/:id`), never the raw URL. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void;
}

const POLL_KINDS: readonly PollKind[] = ['status', 'ping', 'last-activity', 'email'];
const CHANGE_SOURCES: readonly ChangeSource[] = [
  'push',
  'probe',
  'query',
  'server',
  'ping',
  'email',
];
const LIVENESS_VERDICTS: readonly LivenessVerdict[] = [
  'answered',
  'no-response',
  'connection-lost',
  'stalled',
  'server-silent',
  'heard-meanwhile',
];
const ALERT_KINDS: readonly AlertKind[] = ['decoupled', 'recovered', 'flapping'];
const ALERT_DELIVERIES: readonly AlertDelivery[] = [
  'sent',
  'duplicate',
  'rate-limited',
  'flapping',
];
const EMAIL_FATES: readonly EmailPollFate[] = [
  'sent',
  'send-failed',
  'no-address',
  'answered',
  'expired',
];
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const KNOWN_COMMANDS = new Set<string>(COMMAND_NAMES);

/** From 10 ms (a meter on the LAN) to the group timeout's order (tens of seconds). */
const COMMAND_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const HTTP_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(sources: MetricsSources, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`;
  const registers = [registry];

  new Gauge({
    name: name('meters'),
    help: 'Registered meters per presence state (a meter never heard from is decoupled).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = sources.meterCounts();
      for (const state of METER_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });

  const stateChanges = new Counter({
    name: name('state_changes_total'),
    help: 'Recorded presence state changes, by new state and by how the service learned of it.',
    labelNames: ['state', 'source'] as const,
    registers,
  });
  const protocolErrors = new Counter({
    name: name('protocol_errors_total'),
    help: 'Protocol errors recorded for meters (PROTOCOL §1: recorded, never a crash).',
    registers,
  });
  const polls = new Counter({
    name: name('polls_total'),
    help: 'Polls of meters by polling schedules, by kind and result.',
    labelNames: ['kind', 'result'] as const,
    registers,
  });
  const commandDuration = new Histogram({
    name: name('command_duration_seconds'),
    help: "Round trip of the service's ad-hoc commands to meters (group commands, demand response).",
    labelNames: ['command', 'outcome'] as const,
    buckets: COMMAND_BUCKETS_S,
    registers,
  });
  const reconnects = new Counter({
    name: name('xmpp_reconnects_total'),
    help: "Times the component's XMPP session came back after it was lost.",
    registers,
  });
  if (sources.xmppOnline) {
    const online = sources.xmppOnline;
    new Gauge({
      name: name('xmpp_connected'),
      help: '1 while the component is online, 0 otherwise.',
      registers,
      collect() {
        this.set(online() ? 1 : 0);
      },
    });
  }
  const verdicts = new Counter({
    name: name('liveness_verdicts_total'),
    help: 'Silent-death probes by verdict: answered, recorded decoupled, or no verdict (why).',
    labelNames: ['reason'] as const,
    registers,
  });
  const alerts = new Counter({
    name: name('alerts_total'),
    help: 'Alerts raised, by kind and delivery (sent, or why it was held back).',
    labelNames: ['kind', 'delivery'] as const,
    registers,
  });
  const alertSendFailures = new Counter({
    name: name('alert_send_failures_total'),
    help: 'Alert messages to a recipient that could not be sent, by channel.',
    labelNames: ['channel'] as const,
    registers,
  });
  const emailPolls = new Counter({
    name: name('email_polls_total'),
    help: 'E-mail polls by outcome: sent, send-failed, no-address, then answered or expired.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const emailRejects = new Counter({
    name: name('email_replies_rejected_total'),
    help: 'E-mail replies refused, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const dataItems = new Counter({
    name: name('data_items_total'),
    help: 'Data items received from meters, by kind and result (stored, duplicate, conflict).',
    labelNames: ['kind', 'result'] as const,
    registers,
  });
  if (sources.outboxBacklog) {
    registerBacklogGauges(registry, sources.outboxBacklog);
  }
  const httpDuration = new Histogram({
    name: name('http_request_duration_seconds'),
    help: 'HTTP API requests, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS_S,
    registers,
  });

  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  }

  // Series that exist from the start read 0, so rate() and increase() see their first events.
  for (const state of METER_STATES) {
    for (const source of CHANGE_SOURCES) stateChanges.inc({ state, source }, 0);
  }
  for (const kind of POLL_KINDS) {
    for (const result of POLL_RESULTS) polls.inc({ kind, result }, 0);
  }
  for (const reason of LIVENESS_VERDICTS) verdicts.inc({ reason }, 0);
  for (const kind of ALERT_KINDS) {
    for (const delivery of ALERT_DELIVERIES) alerts.inc({ kind, delivery }, 0);
  }
  for (const outcome of EMAIL_FATES) emailPolls.inc({ outcome }, 0);
  protocolErrors.inc(0);
  reconnects.inc(0);

  return {
    registry,
    contentType: registry.contentType,
    exposition: () => registry.metrics(),
    stateChanged: ({ state, source }) => stateChanges.inc({ state, source }),
    protocolError: () => protocolErrors.inc(),
    pollResult: (kind, result) => polls.inc({ kind, result }),
    commandFinished(command, outcome, seconds) {
      // Only our own command names: the label set stays closed whatever node is asked for.
      const label = KNOWN_COMMANDS.has(command) ? command : 'other';
      commandDuration.observe({ command: label, outcome }, seconds);
    },
    xmppReconnected: () => reconnects.inc(),
    livenessVerdict: (reason) => verdicts.inc({ reason }),
    alertRaised: (kind, delivery) => alerts.inc({ kind, delivery }),
    alertSendFailed: (channel) => alertSendFailures.inc({ channel }),
    emailPoll: (outcome) => emailPolls.inc({ outcome }),
    emailReplyRejected: (reason) => emailRejects.inc({ reason }),
    dataItem: (kind, result) => dataItems.inc({ kind, result }),
    httpRequest(method, route, statusCode, seconds) {
      httpDuration.observe(
        {
          method: HTTP_METHODS.has(method) ? method : 'other',
          route,
          status_code: String(statusCode),
        },
        seconds,
      );
    },
  };
}

/** Sum, maximum and counts of the backlogs the agents reported (docs/protocol.md "Data"). */
function registerBacklogGauges(registry: Registry, read: () => BacklogSummary): void {
  // Each gauge reads the summary: one pass over at most one entry per meter, a few µs at 10,000.
  const summary = read;
  const registers = [registry];
  new Gauge({
    name: `${METRIC_PREFIX}agent_outbox_items`,
    help: "Data items waiting in the meters' outboxes, summed over meters (latest reading each).",
    registers,
    collect() {
      this.set(summary().items);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}agent_outbox_items_max`,
    help: 'The largest outbox backlog any one meter reported in its latest reading.',
    registers,
    collect() {
      this.set(summary().max);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}agent_outbox_reporting_meters`,
    help: 'Meters whose latest reading reported its outbox backlog (agents that support it).',
    registers,
    collect() {
      this.set(summary().reporting);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}agent_outbox_backlogged_meters`,
    help: 'Meters whose latest reading reported at least one item waiting in their outbox.',
    registers,
    collect() {
      this.set(summary().backlogged);
    },
  });
}
