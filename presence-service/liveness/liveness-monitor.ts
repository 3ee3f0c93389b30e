import type { Logger } from '../../src/log.js';
import type { MeterState } from '../../src/protocol/states.js';
import { LIVENESS_DEFAULTS, type LivenessLimits } from '../config.js';
import type { ChangeBus } from '../presence/change-bus.js';
import type { PresenceRecorder } from '../presence/presence-recorder.js';
import type { ChangeSource, CurrentState } from '../store/presence-store.js';
import type { MeterPinger } from '../xmpp/meter-pinger.js';
import type { StatusQuerier } from '../xmpp/status-querier.js';

// Silent-death detection (docs/liveness.md). Prosody notices a meter whose link died without a
// FIN only after minutes (XMPP-NOTES "Liveness"), so the service watches every online meter's
// last sign of life (any presence, heartbeat, data, answer) and pings one that has been quiet
// for `quietS`; `tries` unanswered pings in a row record it `decoupled`/`no-response` (source
// `ping`). A later sign of life is followed by a status query that records the recovery.
//
// No false alarms: a meter that answers within the timeout is alive however slow; a verdict is
// dropped if any sign of life arrived after the first ping, if our own process stalled while
// waiting (a timer that fires late has not given the answer a chance), or if the server itself
// does not answer (then the link is the problem, and the component keep-alive handles it).

export interface LivenessMonitor {
  start(): void;
  stop(): void;
  /** The component link is up (true) or down (false): no verdicts while it is down. */
  setOnline(online: boolean): void;
  /** Something (a poll that timed out) suggests the meter is gone: ping it at the next sweep. */
  suspect(meterId: string): void;
  /** One pass over the meters; the timer calls it every sweepEveryMs (tests call it directly). */
  sweep(): void;
  /** Meters with a probe running now. */
  readonly probing: number;
}

/**
 * What a liveness probe came to (metrics): the meter `answered`; it was recorded decoupled for
 * `no-response` or `connection-lost`; or no verdict was given because our event loop `stalled`,
 * the XMPP server was `server-silent` too, or the meter was `heard-meanwhile`.
 */
export type LivenessVerdict =
  | 'answered'
  | 'no-response'
  | 'connection-lost'
  | 'stalled'
  | 'server-silent'
  | 'heard-meanwhile';

export interface LivenessDeps {
  ping: MeterPinger;
  /** Confirms a recovery: a sign of life alone does not say which state the meter is in. */
  query: StatusQuerier;
  recorder: PresenceRecorder;
  bus: ChangeBus;
  /** Every meter's current state when the monitor starts; later changes come from the bus. */
  initialStates: () => Map<string, CurrentState>;
  /** The registered meters and the limits for each; re-read every LIMITS_REFRESH_MS. */
  meters: () => { ids: readonly string[]; limitsOf: (meterId: string) => LivenessLimits };
  /** Whether the XMPP server answers us now (a ping to its domain). */
  serverAnswering: () => Promise<boolean>;
  sweepEveryMs: number;
  concurrency: number;
  logger: Logger;
  now?: () => number;
  /** Told of every probe's verdict (metrics); optional. */
  onVerdict?: (verdict: LivenessVerdict) => void;
}

/** How often the meter list and per-group limits are re-read. */
const LIMITS_REFRESH_MS = 10_000;
/** A ping whose timeout fired this much later than asked means our event loop stalled. */
const STALL_TOLERANCE_MS = 1_000;
/** A meter recorded `no-response` is pinged again at most this often, to notice it thawing. */
const RECHECK_MIN_MS = 30_000;

export function createLivenessMonitor(deps: LivenessDeps): LivenessMonitor {
  const { ping, recorder, logger } = deps;
  const now = deps.now ?? Date.now;
  const verdict = (v: LivenessVerdict) => deps.onVerdict?.(v);
  const known = new Map<
    string,
    { state: MeterState; reasonCode: string | null; source: ChangeSource }
  >();
  const probing = new Set<string>();
  const suspected = new Set<string>();
  const recheckAt = new Map<string, number>();
  const confirming = new Set<string>();
  let meters: ReturnType<LivenessDeps['meters']> = {
    ids: [],
    limitsOf: () => LIVENESS_DEFAULTS,
  };
  let metersReadAt = Number.NEGATIVE_INFINITY;
  let online = false;
  let stopped = true;
  /** Signs of life older than this do not count: we could not hear any while offline. */
  let baselineAt = now();
  let cursor = 0;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;

  const isSilentDead = (meterId: string) => {
    const k = known.get(meterId);
    return k?.state === 'decoupled' && k.reasonCode === 'no-response';
  };

  // A sign of life from a meter recorded `no-response`: ask it what state it is in now.
  recorder.onSignOfLife((meterId) => {
    if (stopped || !online || !isSilentDead(meterId) || confirming.has(meterId)) return;
    confirming.add(meterId);
    const limits = meters.limitsOf(meterId);
    deps
      .query(meterId, limits.pingTimeoutMs)
      .then((outcome) => {
        if (outcome.kind === 'status')
          recorder.status(meterId, outcome.status, 'query', new Date(now()));
      })
      .catch((error: Error) =>
        logger.warn({ meterId, err: error.message }, 'recovery query failed'),
      )
      .finally(() => confirming.delete(meterId));
  });

  async function probe(meterId: string, limits: LivenessLimits, recheck: boolean): Promise<void> {
    const firstAskedAt = now();
    // A re-check of a meter already recorded silent asks once: it is a look, not a verdict.
    const tries = recheck ? 1 : limits.tries;
    for (let attempt = 1; attempt <= tries; attempt++) {
      const started = performance.now();
      const outcome = await ping(meterId, limits.pingTimeoutMs);
      if (stopped || !online) return;
      switch (outcome.kind) {
        case 'pong':
        case 'error': // an error reply is an answer too
          recorder.seen(meterId, new Date(now()));
          verdict('answered');
          return;
        case 'offline':
          // The server says there is no session: we missed its unavailable (or it was lost).
          if (!recheck) {
            const change = recorder.gone(
              meterId,
              'connection-lost',
              'ping',
              new Date(now()),
              new Date(firstAskedAt),
            );
            if (change) verdict('connection-lost');
          }
          return;
        case 'timeout':
          if (performance.now() - started > limits.pingTimeoutMs + STALL_TOLERANCE_MS) {
            logger.warn({ meterId }, 'event loop stalled during a liveness ping; no verdict');
            verdict('stalled');
            return;
          }
          if ((recorder.lastSignOfLife(meterId) ?? 0) >= firstAskedAt) {
            verdict('heard-meanwhile');
            return;
          }
          logger.debug({ meterId, attempt, tries }, 'liveness ping unanswered');
      }
    }
    if (recheck) return; // still silent; already recorded
    if (!(await deps.serverAnswering())) {
      logger.warn({ meterId }, 'the XMPP server does not answer either; no verdict on the meter');
      verdict('server-silent');
      return;
    }
    if (stopped || !online) return;
    const change = recorder.gone(
      meterId,
      'no-response',
      'ping',
      new Date(now()),
      new Date(firstAskedAt),
    );
    if (change) {
      verdict('no-response');
      logger.warn(
        { meterId, tries: limits.tries, pingTimeoutMs: limits.pingTimeoutMs },
        'meter silent: recorded decoupled/no-response',
      );
    }
  }

  function startProbe(meterId: string, limits: LivenessLimits, recheck: boolean): void {
    probing.add(meterId);
    probe(meterId, limits, recheck)
      .catch((error: Error) => logger.error({ meterId, err: error.message }, 'liveness probe'))
      .finally(() => probing.delete(meterId));
  }

  function sweep(): void {
    if (stopped || !online) return;
    const t = now();
    if (t - metersReadAt >= LIMITS_REFRESH_MS) {
      meters = deps.meters();
      metersReadAt = t;
    }
    const ids = meters.ids;
    if (ids.length === 0) return;
    // Round robin from where the last sweep stopped, so a full house cannot starve the tail.
    const start = cursor % ids.length;
    for (let i = 0; i < ids.length && probing.size < deps.concurrency; i++) {
      const index = (start + i) % ids.length;
      const meterId = ids[index] as string;
      cursor = index + 1;
      if (probing.has(meterId)) continue;
      const state = known.get(meterId);
      if (!state) continue; // never heard of: recovery asks it when the service connects
      // Known by e-mail only: its schedule of e-mail polls is its liveness, not XMPP pings.
      if (state.source === 'email') continue;
      const limits = meters.limitsOf(meterId);
      if (state.state === 'decoupled') {
        if (state.reasonCode !== 'no-response' || t < (recheckAt.get(meterId) ?? 0)) continue;
        recheckAt.set(meterId, t + Math.max(RECHECK_MIN_MS, limits.quietS * 4_000));
        startProbe(meterId, limits, true);
        continue;
      }
      const lastSign = Math.max(recorder.lastSignOfLife(meterId) ?? 0, baselineAt);
      if (!suspected.has(meterId) && t - lastSign < limits.quietS * 1000) continue;
      suspected.delete(meterId);
      startProbe(meterId, limits, false);
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      for (const [meterId, current] of deps.initialStates()) {
        known.set(meterId, {
          state: current.state,
          reasonCode: current.reasonCode,
          source: current.source,
        });
      }
      unsubscribe = deps.bus.subscribe((change) => {
        known.set(change.meterId, {
          state: change.state,
          reasonCode: change.reasonCode,
          source: change.source,
        });
        recheckAt.delete(change.meterId);
      });
      timer = setInterval(sweep, deps.sweepEveryMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      unsubscribe?.();
    },
    setOnline(value) {
      if (value && !online) baselineAt = now();
      online = value;
    },
    suspect(meterId) {
      suspected.add(meterId);
    },
    sweep,
    get probing() {
      return probing.size;
    },
  };
}
