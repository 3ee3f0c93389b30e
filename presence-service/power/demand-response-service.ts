import type { Logger } from '../../src/log.js';
import { commandNode } from '../../src/protocol/commands.js';
import type { CommandOutcome, CommandRunner } from '../commands/command-client.js';
import type { DemandResponseRuleConfig } from '../config.js';
import type { DataStore, LatestReading } from '../data/data-store.js';
import {
  createDemandResponse,
  type Decision,
  type DemandResponse,
  type GroupSnapshot,
  type MemberDemand,
} from './demand-response.js';
import type { DecisionOutcome, DrStore } from './dr-store.js';

// Demand response, the running part: every `evaluateEveryS` it reads each rule's group's newest
// readings, lets the group's state machine decide, stores and logs every decision, and sends
// the sheds and releases as PROTOCOL §4 load-limit commands with bounded concurrency. A
// command's answer is stored on its decision and a shed's is fed back to the machine.

/** PROTOCOL §6 import demand register. */
export const IMPORT_DEMAND_REGISTER = '1-0:1.7.0';
/** The reporting interval assumed for a meter with a single reading (the agent's default). */
export const DEFAULT_READING_INTERVAL_S = 60;

const LOAD_LIMIT_NODE = commandNode('load-limit');

export interface RuleStatus extends GroupSnapshot {
  eventId: number | null;
  limitSource: 'config' | 'operator';
  holdS: number;
  releaseHoldS: number;
  shedLimitKw: number;
  shedDurationMin: number;
}

export interface DemandResponseService {
  start(): void;
  /** No more ticks; answers still in flight are not stored (their decisions stay pending). */
  stop(): void;
  /** One evaluation of every rule now (the timer calls it; tests too). */
  evaluate(): void;
  status(): RuleStatus[];
  /** Undefined when no rule is for that group. */
  setLimit(group: string, limitKw: number, by: string): RuleStatus | undefined;
}

interface RuleRun {
  machine: DemandResponse;
  configLimitKw: number;
  limitSource: 'config' | 'operator';
  eventId: number | null;
  peakKw: number;
}

export function createDemandResponseService(deps: {
  rules: readonly DemandResponseRuleConfig[];
  evaluateEveryS: number;
  readings: Pick<DataStore, 'latestReadings'>;
  store: DrStore;
  run: CommandRunner;
  concurrency: number;
  timeoutMs: number;
  logger: Logger;
  now?: () => Date;
}): DemandResponseService {
  const { readings, store, run, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const overrides = store.limitOverrides();
  const runs = new Map<string, RuleRun>();
  for (const rule of deps.rules) {
    // An operator's limit survives a restart unless the config file's limit has changed since.
    const override = overrides.get(rule.group);
    const useOverride = override !== undefined && override.configLimitKw === rule.limitKw;
    runs.set(rule.group, {
      machine: createDemandResponse({
        ...rule,
        limitKw: useOverride ? override.limitKw : rule.limitKw,
      }),
      configLimitKw: rule.limitKw,
      limitSource: useOverride ? 'operator' : 'config',
      eventId: null,
      peakKw: 0,
    });
  }
  const limiter = createLimiter(deps.concurrency);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function record(group: string, ruleRun: RuleRun, decision: Decision, at: Date): number {
    const outcome: DecisionOutcome | null =
      decision.kind === 'shed' || decision.kind === 'release' ? 'pending' : null;
    const id = store.addDecision({
      eventId: ruleRun.eventId,
      group,
      at: at.toISOString(),
      kind: decision.kind,
      meterId: decision.meterId ?? null,
      reason: decision.reason,
      outcome,
      detail: null,
    });
    logger.info(
      { group, kind: decision.kind, meterId: decision.meterId, eventId: ruleRun.eventId },
      decision.reason,
    );
    return id;
  }

  function apply(group: string, ruleRun: RuleRun, decisions: readonly Decision[], at: Date) {
    const settings = ruleRun.machine.settings();
    for (const decision of decisions) {
      if (decision.kind === 'event-start') {
        ruleRun.peakKw = decision.peakKw ?? 0;
        ruleRun.eventId = store.startEvent({
          group,
          at: at.toISOString(),
          limitKw: settings.limitKw,
          peakKw: ruleRun.peakKw,
        });
      }
      const decisionId = record(group, ruleRun, decision, at);
      if (decision.kind === 'event-end') {
        if (ruleRun.eventId !== null) {
          store.endEvent(ruleRun.eventId, at.toISOString(), decision.peakKw ?? ruleRun.peakKw);
        }
        ruleRun.eventId = null;
      }
      const meterId = decision.meterId;
      if (meterId === undefined || (decision.kind !== 'shed' && decision.kind !== 'release')) {
        continue;
      }
      const form: Record<string, string[]> =
        decision.kind === 'shed'
          ? {
              'limit-kw': [String(settings.shedLimitKw)],
              'duration-min': [String(settings.shedDurationMin)],
            }
          : { clear: ['true'] };
      void limiter(() => runSafely(meterId, form)).then((outcome) => {
        if (stopped) return;
        const answeredAt = now();
        const { stored, detail } = describeOutcome(outcome);
        try {
          store.setOutcome(decisionId, stored, detail);
        } catch (error) {
          logger.error({ err: (error as Error).message }, 'storing a command outcome failed');
        }
        if (decision.kind === 'shed')
          ruleRun.machine.shedOutcome(meterId, stored === 'ok', answeredAt);
        const fields = { group, kind: decision.kind, meterId, outcome: stored, detail };
        if (stored === 'ok') logger.info(fields, `${decision.kind} of ${meterId} done`);
        else logger.warn(fields, `${decision.kind} of ${meterId} failed: ${stored}`);
      });
    }
  }

  async function runSafely(meterId: string, form: Record<string, string[]>) {
    if (stopped) return { kind: 'timeout' } as const;
    try {
      return await run(meterId, LOAD_LIMIT_NODE, form, deps.timeoutMs);
    } catch (error) {
      return { kind: 'error', condition: 'internal', text: (error as Error).message } as const;
    }
  }

  function evaluate() {
    const at = now();
    for (const [group, ruleRun] of runs) {
      try {
        const members = readings.latestReadings(group).map(memberDemand);
        apply(group, ruleRun, ruleRun.machine.evaluate(at, members), at);
        const peak = ruleRun.machine.snapshot().peakKw;
        if (ruleRun.eventId !== null && peak > ruleRun.peakKw) {
          ruleRun.peakKw = peak;
          store.updatePeak(ruleRun.eventId, peak);
        }
      } catch (error) {
        logger.error({ group, err: (error as Error).message }, 'demand-response evaluation failed');
      }
    }
  }

  function statusOf(ruleRun: RuleRun): RuleStatus {
    const s = ruleRun.machine.settings();
    return {
      ...ruleRun.machine.snapshot(),
      eventId: ruleRun.eventId,
      limitSource: ruleRun.limitSource,
      holdS: s.holdS,
      releaseHoldS: s.releaseHoldS,
      shedLimitKw: s.shedLimitKw,
      shedDurationMin: s.shedDurationMin,
    };
  }

  return {
    start() {
      const closed = store.closeInterrupted(now().toISOString());
      if (closed.events > 0 || closed.decisions > 0) {
        // The meters' load limits run out by themselves within shedDurationMin.
        logger.warn(closed, 'a previous run left demand-response events open; ended them');
      }
      if (runs.size === 0) return;
      const everyMs = deps.evaluateEveryS * 1000;
      const tick = () => {
        timer = undefined;
        if (stopped) return;
        evaluate();
        if (!stopped) timer = setTimeout(tick, everyMs);
      };
      timer = setTimeout(tick, everyMs);
      logger.info({ rules: [...runs.keys()], everyS: deps.evaluateEveryS }, 'demand response on');
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    evaluate,
    status: () => [...runs.values()].map(statusOf),
    setLimit(group, limitKw, by) {
      const ruleRun = runs.get(group);
      if (!ruleRun) return undefined;
      const at = now();
      const decision = ruleRun.machine.setLimit(limitKw, by);
      ruleRun.limitSource = 'operator';
      store.saveLimit(group, {
        limitKw,
        configLimitKw: ruleRun.configLimitKw,
        changedAt: at.toISOString(),
        changedBy: by,
      });
      record(group, ruleRun, decision, at);
      return statusOf(ruleRun);
    },
  };
}

/** A member's demand from its newest reading; the interval from the reading before it. */
export function memberDemand(latest: LatestReading): MemberDemand {
  const raw = latest.values.find((v) => v.id === IMPORT_DEMAND_REGISTER)?.value;
  const demandKw = raw === undefined ? null : Number(raw);
  const readingAt = latest.ts === null ? null : new Date(latest.ts);
  const intervalS =
    readingAt && latest.previousTs
      ? (readingAt.getTime() - Date.parse(latest.previousTs)) / 1000
      : DEFAULT_READING_INTERVAL_S;
  return {
    meterId: latest.meterId,
    demandKw: demandKw === null || !Number.isFinite(demandKw) ? null : demandKw,
    readingAt,
    intervalS,
  };
}

function describeOutcome(outcome: CommandOutcome): {
  stored: DecisionOutcome;
  detail: string | null;
} {
  switch (outcome.kind) {
    case 'ok':
      return { stored: 'ok', detail: outcome.note || null };
    case 'error':
      return { stored: 'error', detail: `${outcome.condition}: ${outcome.text}` };
    case 'offline':
      return { stored: 'offline', detail: outcome.condition };
    case 'timeout':
      return { stored: 'timeout', detail: 'no answer' };
  }
}

/** At most `concurrency` commands in flight across every rule and tick (STYLE §9). */
function createLimiter(concurrency: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  const acquire = (): Promise<void> => {
    if (active < concurrency) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  // A finished task hands its slot straight to the next waiting one.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    await acquire();
    try {
      return await task();
    } finally {
      release();
    }
  };
}
