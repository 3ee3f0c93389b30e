import { DEFAULT_DR_PRIORITY } from '../config.js';

// Demand response (docs/demand-response.md), the decision core for one group: pure, with the
// clock passed in. It reads the members' latest import demand (PROTOCOL §6 `1-0:1.7.0`) and
// answers with decisions; sending the load limits (PROTOCOL §4 load-limit) and storing the
// decisions is demand-response-service.ts's job, which reports each shed's outcome back here.
//
// normal ──total > limit for holdS──▶ shedding ──restored total < limit − margin for
// releaseHoldS──▶ release every shed meter ──▶ normal.
//
// While shedding, a shed meter counts at most shedLimitKw until a reading taken after its
// limit was acknowledged shows what it really draws. Release looks at the *restored* total
// (each shed meter at the larger of its demand now and its demand when shed): a shed that
// worked must not release itself, or the group would flap between the two states.

/** A reading older than this many of the meter's reporting intervals counts as no demand. */
export const STALE_AFTER_INTERVALS = 3;
/** A shed is re-sent when less than this share of its duration is left and the event is on. */
export const RENEW_WHEN_LEFT = 0.2;

export interface RuleSettings {
  group: string;
  limitKw: number;
  holdS: number;
  /** Default: 10 % of the limit in force. */
  releaseMarginKw?: number;
  releaseHoldS: number;
  shedLimitKw: number;
  shedDurationMin: number;
  priorities: Record<string, number>;
}

export interface MemberDemand {
  meterId: string;
  /** kW from the newest reading's `1-0:1.7.0`; null when the meter has no reading. */
  demandKw: number | null;
  /** When the newest reading was taken. */
  readingAt: Date | null;
  /** Seconds between this meter's readings. */
  intervalS: number;
}

export type DecisionKind =
  | 'event-start'
  | 'shed'
  | 'still-over'
  | 'release'
  | 'event-end'
  | 'limit-change';

export interface Decision {
  kind: DecisionKind;
  /** shed and release only. */
  meterId?: string;
  /** What was decided and why, with the numbers. */
  reason: string;
  /** event-start and event-end: the event's highest total so far. */
  peakKw?: number;
}

export type ShedStatus = 'sending' | 'on';

export interface ShedView {
  meterId: string;
  status: ShedStatus;
  demandAtShedKw: number;
  /** When the meter first acknowledged the limit. */
  since: string | null;
  expiresAt: string | null;
}

export interface GroupSnapshot {
  group: string;
  state: 'normal' | 'shedding';
  limitKw: number;
  releaseMarginKw: number;
  /** Sum of the members' demand now (stale meters count 0). */
  totalKw: number;
  /** The total once every load limit sent has taken effect. */
  projectedKw: number;
  /** The total if every shed meter came back at the demand it had when shed. */
  restoredKw: number;
  eventStartedAt: string | null;
  peakKw: number;
  overSince: string | null;
  underSince: string | null;
  shed: ShedView[];
  /** Meters whose shed failed in this event; not tried again until the next event. */
  failed: string[];
  members: Array<{ meterId: string; demandKw: number; priority: number; stale: boolean }>;
}

export interface DemandResponse {
  readonly group: string;
  evaluate(now: Date, members: readonly MemberDemand[]): Decision[];
  /** A shed's outcome, from the command runner; `at` is when the answer came. */
  shedOutcome(meterId: string, ok: boolean, at: Date): void;
  setLimit(limitKw: number, by: string): Decision;
  snapshot(): GroupSnapshot;
  settings(): RuleSettings;
}

interface ShedEntry {
  status: ShedStatus;
  demandAtShedKw: number;
  ackAt: Date | null;
  expiresAt: Date | null;
}

interface Measured {
  meterId: string;
  demandKw: number;
  readingAt: Date | null;
  stale: boolean;
}

export function createDemandResponse(initial: RuleSettings): DemandResponse {
  const rule: RuleSettings = { ...initial, priorities: { ...initial.priorities } };
  let state: 'normal' | 'shedding' = 'normal';
  let overSince: Date | null = null;
  let underSince: Date | null = null;
  let eventStartedAt: Date | null = null;
  let peakKw = 0;
  /** A shed failed since the last tick: try the next meter at once, without a new hold. */
  let replaceFailed = false;
  /** 'still-over' with nobody left to shed is said once, not every tick. */
  let exhaustedNoted = false;
  const shed = new Map<string, ShedEntry>();
  const failed = new Set<string>();
  let last: { measured: Measured[]; total: number; projected: number; restored: number } = {
    measured: [],
    total: 0,
    projected: 0,
    restored: 0,
  };

  const marginKw = () => rule.releaseMarginKw ?? rule.limitKw * 0.1;
  const priorityOf = (id: string) => rule.priorities[id] ?? DEFAULT_DR_PRIORITY;
  const heldS = (since: Date, now: Date) => (now.getTime() - since.getTime()) / 1000;

  function measure(now: Date, members: readonly MemberDemand[]): Measured[] {
    return members.map((m) => {
      const stale =
        m.readingAt === null ||
        m.demandKw === null ||
        now.getTime() - m.readingAt.getTime() > STALE_AFTER_INTERVALS * m.intervalS * 1000;
      return {
        meterId: m.meterId,
        demandKw: stale ? 0 : Math.max(0, m.demandKw ?? 0),
        readingAt: m.readingAt,
        stale,
      };
    });
  }

  /** A shed meter's share of the total once its limit holds. */
  function projectedDemand(m: Measured): number {
    const entry = shed.get(m.meterId);
    if (!entry) return m.demandKw;
    const tookEffect = entry.ackAt !== null && m.readingAt !== null && m.readingAt > entry.ackAt;
    return tookEffect ? m.demandKw : Math.min(m.demandKw, rule.shedLimitKw);
  }

  /** Lowest priority first, ties: highest demand first; only meters whose shed gains power. */
  function chooseSheds(measured: Measured[], projected: number, why: string): Decision[] {
    const candidates = measured
      .filter(
        (m) =>
          !m.stale &&
          !shed.has(m.meterId) &&
          !failed.has(m.meterId) &&
          m.demandKw > rule.shedLimitKw,
      )
      .sort(
        (a, b) =>
          priorityOf(a.meterId) - priorityOf(b.meterId) ||
          b.demandKw - a.demandKw ||
          a.meterId.localeCompare(b.meterId),
      );
    const decisions: Decision[] = [];
    let left = projected;
    for (const m of candidates) {
      if (left <= rule.limitKw) break;
      left -= m.demandKw - rule.shedLimitKw;
      shed.set(m.meterId, {
        status: 'sending',
        demandAtShedKw: m.demandKw,
        ackAt: null,
        expiresAt: null,
      });
      decisions.push({
        kind: 'shed',
        meterId: m.meterId,
        reason: `${why}; shedding ${m.meterId} (prio ${priorityOf(m.meterId)}, ${kw(m.demandKw)} kW) to ${kw(rule.shedLimitKw)} kW for ${rule.shedDurationMin} min`,
      });
    }
    if (left > rule.limitKw) {
      if (!exhaustedNoted) {
        decisions.push({
          kind: 'still-over',
          reason: `${why}; projected ${kw(left)} kW still > limit ${kw(rule.limitKw)} kW with no meter left to shed (${shed.size} shed, ${failed.size} failed)`,
        });
      }
      exhaustedNoted = true;
    } else {
      exhaustedNoted = false;
    }
    return decisions;
  }

  function renewals(now: Date): Decision[] {
    const decisions: Decision[] = [];
    const durationMs = rule.shedDurationMin * 60_000;
    for (const [meterId, entry] of shed) {
      if (entry.status !== 'on' || entry.expiresAt === null) continue;
      if (entry.expiresAt <= now) {
        // Its limit ran out unrenewed (the renewals failed): it is no longer shed.
        shed.delete(meterId);
        failed.add(meterId);
        continue;
      }
      if (entry.expiresAt.getTime() - now.getTime() > durationMs * RENEW_WHEN_LEFT) continue;
      entry.status = 'sending';
      decisions.push({
        kind: 'shed',
        meterId,
        reason: `renewing ${meterId}: its ${kw(rule.shedLimitKw)} kW limit ends at ${entry.expiresAt.toISOString()} and the event is on`,
      });
    }
    return decisions;
  }

  function release(now: Date, restored: number): Decision[] {
    const why = `restored total ${kw(restored)} kW < limit ${kw(rule.limitKw)} − margin ${kw(marginKw())} kW for ${secs(heldS(underSince ?? now, now))} s`;
    const meters = [...new Set([...shed.keys(), ...failed])].sort();
    const decisions: Decision[] = meters.map((meterId) => ({
      kind: 'release',
      meterId,
      reason: `${why}; releasing ${meterId}`,
    }));
    decisions.push({
      kind: 'event-end',
      reason: `${why}; ${meters.length} meters released, peak ${kw(peakKw)} kW`,
      peakKw: round(peakKw),
    });
    state = 'normal';
    shed.clear();
    failed.clear();
    overSince = underSince = eventStartedAt = null;
    peakKw = 0;
    replaceFailed = exhaustedNoted = false;
    return decisions;
  }

  const projectedOf = (measured: Measured[]) => sum(measured.map(projectedDemand));
  const restoredOf = (measured: Measured[]) =>
    sum(measured.map((m) => Math.max(m.demandKw, shed.get(m.meterId)?.demandAtShedKw ?? 0)));

  function decide(now: Date, measured: Measured[]): Decision[] {
    const total = sum(measured.map((m) => m.demandKw));
    const projected = projectedOf(measured);
    const restored = restoredOf(measured);
    last = { measured, total, projected, restored };
    const staleNote = noteStale(measured);

    if (state === 'normal') {
      if (total <= rule.limitKw) {
        overSince = null;
        return [];
      }
      overSince ??= now;
      if (heldS(overSince, now) < rule.holdS) return [];
      const why = `total ${kw(total)} kW > limit ${kw(rule.limitKw)} kW for ${secs(heldS(overSince, now))} s${staleNote}`;
      state = 'shedding';
      eventStartedAt = now;
      peakKw = total;
      overSince = null;
      return [
        { kind: 'event-start', reason: why, peakKw: round(total) },
        ...chooseSheds(measured, total, why),
      ];
    }

    peakKw = Math.max(peakKw, total);
    if (restored < rule.limitKw - marginKw()) {
      underSince ??= now;
      if (heldS(underSince, now) >= rule.releaseHoldS) return release(now, restored);
    } else {
      underSince = null;
    }
    const decisions = renewals(now);
    if (projected <= rule.limitKw) {
      overSince = null;
      exhaustedNoted = false;
      return decisions;
    }
    overSince ??= now;
    if (!replaceFailed && heldS(overSince, now) < rule.holdS) return decisions;
    const cause = replaceFailed ? 'a shed failed' : `for ${secs(heldS(overSince, now))} s`;
    replaceFailed = false;
    const why = `projected ${kw(projected)} kW still > limit ${kw(rule.limitKw)} kW (${cause}; total ${kw(total)} kW)${staleNote}`;
    const more = chooseSheds(measured, projected, why);
    if (more.some((d) => d.kind === 'shed')) {
      overSince = null;
      decisions.push({ kind: 'still-over', reason: why });
    }
    return [...decisions, ...more];
  }

  return {
    group: rule.group,

    evaluate(now, members) {
      const measured = measure(now, members);
      const decisions = decide(now, measured);
      // The state shown is the one after this tick's decisions (sheds just sent count).
      last = { ...last, projected: projectedOf(measured), restored: restoredOf(measured) };
      return decisions;
    },

    shedOutcome(meterId, ok, at) {
      const entry = shed.get(meterId);
      if (!entry) return; // released meanwhile
      if (ok) {
        entry.status = 'on';
        entry.ackAt ??= at;
        entry.expiresAt = new Date(at.getTime() + rule.shedDurationMin * 60_000);
      } else if (entry.ackAt !== null) {
        // A renewal failed: the limit holds until it expires; renewing is tried each tick.
        entry.status = 'on';
      } else {
        shed.delete(meterId);
        failed.add(meterId);
        replaceFailed = true;
      }
    },

    setLimit(limitKw, by) {
      const before = rule.limitKw;
      rule.limitKw = limitKw;
      return {
        kind: 'limit-change',
        reason: `limit ${kw(before)} kW → ${kw(limitKw)} kW by ${by}; total now ${kw(last.total)} kW`,
      };
    },

    snapshot() {
      return {
        group: rule.group,
        state,
        limitKw: rule.limitKw,
        releaseMarginKw: marginKw(),
        totalKw: round(last.total),
        projectedKw: round(last.projected),
        restoredKw: round(last.restored),
        eventStartedAt: eventStartedAt?.toISOString() ?? null,
        peakKw: round(peakKw),
        overSince: overSince?.toISOString() ?? null,
        underSince: underSince?.toISOString() ?? null,
        shed: [...shed].map(([meterId, e]) => ({
          meterId,
          status: e.status,
          demandAtShedKw: round(e.demandAtShedKw),
          since: e.ackAt?.toISOString() ?? null,
          expiresAt: e.expiresAt?.toISOString() ?? null,
        })),
        failed: [...failed].sort(),
        members: last.measured.map((m) => ({
          meterId: m.meterId,
          demandKw: round(m.demandKw),
          priority: priorityOf(m.meterId),
          stale: m.stale,
        })),
      };
    },

    settings: () => ({ ...rule, priorities: { ...rule.priorities } }),
  };
}

function noteStale(measured: readonly Measured[]): string {
  const stale = measured.filter((m) => m.stale).map((m) => m.meterId);
  if (stale.length === 0) return '';
  const named = stale.slice(0, 10).join(', ') + (stale.length > 10 ? ', …' : '');
  return ` (no recent reading, counted 0: ${named})`;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const round = (value: number) => Math.round(value * 1000) / 1000;
/** kW for a reason string: at most two decimals, no trailing zeros ("12.4", "10"). */
const kw = (value: number) => String(Math.round(value * 100) / 100);
const secs = (value: number) => String(Math.round(value * 10) / 10);
