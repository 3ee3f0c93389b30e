import { describe, expect, it } from 'vitest';
import {
  createDemandResponse,
  type Decision,
  type DemandResponse,
  type MemberDemand,
  type RuleSettings,
} from '../../presence-service/power/demand-response.js';

// Demand response's decision core (docs/demand-response.md), driven by a fake clock: hold
// times, shed order, enough sheds, release with margin and hold, no flapping, failed sheds.

const T0 = Date.parse('2026-11-27T14:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

const RULE: RuleSettings = {
  group: 'feeder-1',
  limitKw: 10,
  holdS: 60,
  releaseHoldS: 120,
  shedLimitKw: 1,
  shedDurationMin: 60,
  priorities: {},
};

/** Every meter read one second before `s`, on a 5 s interval. */
const demands = (s: number, kw: Record<string, number>): MemberDemand[] =>
  Object.entries(kw).map(([meterId, demandKw]) => ({
    meterId,
    demandKw,
    readingAt: at(s - 1),
    intervalS: 5,
  }));

const kinds = (decisions: readonly Decision[]) =>
  decisions.map((d) => (d.meterId ? `${d.kind}:${d.meterId}` : d.kind));

/** Evaluates every `stepS` from `fromS` to `toS` with the same demands; returns all decisions. */
function run(
  dr: DemandResponse,
  fromS: number,
  toS: number,
  kw: Record<string, number> | ((s: number) => Record<string, number>),
  stepS = 5,
): Decision[] {
  const out: Decision[] = [];
  for (let s = fromS; s <= toS; s += stepS) {
    out.push(...dr.evaluate(at(s), demands(s, typeof kw === 'function' ? kw(s) : kw)));
  }
  return out;
}

/** Puts the group in `shedding` with a and b shed (3 kW each, acknowledged at 60.5 s). */
function shedding(rule: Partial<RuleSettings> = {}) {
  const dr = createDemandResponse({ ...RULE, priorities: { a: 1, b: 2 }, ...rule });
  const load = { a: 3, b: 3, c: 8 };
  expect(kinds(run(dr, 0, 60, load))).toEqual(['event-start', 'shed:a', 'shed:b']);
  dr.shedOutcome('a', true, at(60.5));
  dr.shedOutcome('b', true, at(60.5));
  return dr;
}

describe('demand response: starting an event', () => {
  it('ignores a spike shorter than holdS, and restarts the hold after a dip', () => {
    const dr = createDemandResponse(RULE);
    expect(run(dr, 0, 55, { a: 6, b: 6 })).toEqual([]);
    expect(dr.evaluate(at(58), demands(58, { a: 4, b: 5 }))).toEqual([]); // 9 kW: back under
    expect(run(dr, 60, 115, { a: 6, b: 6 })).toEqual([]);
    expect(dr.snapshot()).toMatchObject({
      state: 'normal',
      totalKw: 12,
      overSince: at(60).toISOString(),
    });
    const started = dr.evaluate(at(120), demands(120, { a: 6, b: 6 }));
    expect(kinds(started)).toEqual(['event-start', 'shed:a']);
    expect(started[0]?.reason).toBe('total 12 kW > limit 10 kW for 60 s');
    expect(dr.snapshot().state).toBe('shedding');
  });

  it('does not start at exactly the limit', () => {
    const dr = createDemandResponse(RULE);
    expect(run(dr, 0, 600, { a: 5, b: 5 })).toEqual([]);
  });

  it('sheds the lowest priority first, ties by highest demand, with the numbers in the reason', () => {
    const dr = createDemandResponse({ ...RULE, holdS: 0, priorities: { b: 10, c: 50, e: 10 } });
    // total 14.5; b (prio 10, 2 kW) gains 1, e (prio 10, 0.5 kW) would gain nothing, c (prio
    // 50) gains 3: 10.5 still over; then prio 100 by demand: d (5 kW) before a (3 kW).
    const decisions = dr.evaluate(at(0), demands(0, { a: 3, b: 2, c: 4, d: 5, e: 0.5 }));
    expect(kinds(decisions)).toEqual(['event-start', 'shed:b', 'shed:c', 'shed:d']);
    expect(decisions[1]?.reason).toBe(
      'total 14.5 kW > limit 10 kW for 0 s; shedding b (prio 10, 2 kW) to 1 kW for 60 min',
    );
    expect(decisions[3]?.reason).toContain('shedding d (prio 100, 5 kW)');
  });

  it('sheds enough meters for the projected total to be under the limit', () => {
    const dr = createDemandResponse({ ...RULE, holdS: 0 });
    const load = { a: 3, b: 3, c: 3, d: 3, e: 3, f: 3 }; // 18 kW: each shed gains 2 kW
    const decisions = dr.evaluate(at(0), demands(0, load));
    expect(decisions.filter((d) => d.kind === 'shed')).toHaveLength(4); // 18 − 8 = 10
    expect(dr.snapshot()).toMatchObject({ projectedKw: 10, totalKw: 18 });
  });

  it('says so once when even every meter shed cannot bring the total under', () => {
    const dr = createDemandResponse({ ...RULE, holdS: 0, limitKw: 1.5 });
    const decisions = dr.evaluate(at(0), demands(0, { a: 3, b: 3 }));
    expect(kinds(decisions)).toEqual(['event-start', 'shed:a', 'shed:b', 'still-over']);
    expect(decisions[3]?.reason).toContain(
      'projected 2 kW still > limit 1.5 kW with no meter left to shed (2 shed, 0 failed)',
    );
    expect(run(dr, 5, 300, { a: 3, b: 3 })).toEqual([]);
  });

  it('counts a meter without a recent reading as 0 and names it', () => {
    const dr = createDemandResponse({ ...RULE, holdS: 0 });
    const members: MemberDemand[] = [
      ...demands(100, { a: 6, b: 5 }),
      // 3 intervals of 5 s = 15 s: a reading 16 s old is stale
      { meterId: 'z', demandKw: 50, readingAt: at(84), intervalS: 5 },
      { meterId: 'y', demandKw: null, readingAt: null, intervalS: 60 },
    ];
    const decisions = dr.evaluate(at(100), members);
    expect(decisions[0]?.reason).toBe(
      'total 11 kW > limit 10 kW for 0 s (no recent reading, counted 0: z, y)',
    );
    expect(kinds(decisions)).toEqual(['event-start', 'shed:a']);
    expect(dr.snapshot().members.find((m) => m.meterId === 'z')).toMatchObject({
      demandKw: 0,
      stale: true,
    });
  });
});

describe('demand response: during an event', () => {
  it('counts a shed meter at the shed limit until a later reading shows its real demand', () => {
    const dr = shedding();
    // the newest readings are still from before the limits held: projected 1 + 1 + 8 = 10
    const before = demands(60, { a: 3, b: 3, c: 8 }).map((m) => ({ ...m, intervalS: 60 }));
    for (let s = 65; s <= 200; s += 5) expect(dr.evaluate(at(s), before)).toEqual([]);
    expect(dr.snapshot()).toMatchObject({ projectedKw: 10, totalKw: 14 });
  });

  it('sheds more once the sheds took effect and the total is still over for holdS', () => {
    const dr = shedding();
    // a and b honour their limits, but c grows to 9.5: 0.8 + 0.9 + 9.5 = 11.2
    const grown = { a: 0.8, b: 0.9, c: 9.5 };
    expect(run(dr, 65, 120, grown)).toEqual([]);
    const decisions = dr.evaluate(at(125), demands(125, grown));
    expect(kinds(decisions)).toEqual(['still-over', 'shed:c']);
    expect(decisions[0]?.reason).toBe(
      'projected 11.2 kW still > limit 10 kW (for 60 s; total 11.2 kW)',
    );
  });

  it('tries the next meter on the next tick when a shed fails, and does not retry it', () => {
    const dr = createDemandResponse({ ...RULE, holdS: 0, priorities: { a: 1 } });
    expect(kinds(dr.evaluate(at(0), demands(0, { a: 5, b: 4, c: 3 })))).toEqual([
      'event-start',
      'shed:a',
    ]);
    dr.shedOutcome('a', false, at(2));
    const next = dr.evaluate(at(5), demands(5, { a: 5, b: 4, c: 3 }));
    expect(kinds(next)).toEqual(['still-over', 'shed:b']);
    expect(next[0]?.reason).toContain('(a shed failed; total 12 kW)');
    expect(dr.snapshot().failed).toEqual(['a']);
    // the failed meter still gets its clear at release (it may have applied the limit)
    dr.shedOutcome('b', true, at(6));
    dr.setLimit(100, 'test');
    expect(kinds(run(dr, 10, 130, { a: 5, b: 4, c: 3 }))).toEqual([
      'release:a',
      'release:b',
      'event-end',
    ]);
  });

  it('renews a shed before its load limit runs out', () => {
    const dr = shedding({ shedDurationMin: 10 });
    // acknowledged at 60.5 s, ends at 660.5 s; renewed when less than 2 min are left
    expect(run(dr, 65, 540, { a: 0.5, b: 0.5, c: 3 })).toEqual([]);
    const renewed = dr.evaluate(at(545), demands(545, { a: 0.5, b: 0.5, c: 3 }));
    expect(kinds(renewed)).toEqual(['shed:a', 'shed:b']);
    expect(renewed[0]?.reason).toBe(
      'renewing a: its 1 kW limit ends at 2026-11-27T14:11:00.500Z and the event is on',
    );
    expect(run(dr, 550, 600, { a: 0.5, b: 0.5, c: 3 })).toEqual([]); // in flight: not re-sent
  });
});

describe('demand response: release', () => {
  it('does not release while the shed meters would bring the total back over (no flapping)', () => {
    const dr = shedding();
    // measured total 0.8 + 0.9 + 8 = 9.7 kW; restored 3 + 3 + 8 = 14 kW
    expect(run(dr, 65, 2400, { a: 0.8, b: 0.9, c: 8 })).toEqual([]); // renewals come at 48 min
    expect(dr.snapshot()).toMatchObject({ state: 'shedding', restoredKw: 14, totalKw: 9.7 });
  });

  it('releases every shed meter after releaseHoldS below limit − margin, then ends', () => {
    const dr = shedding();
    // c drops to 3: restored 3 + 3 + 3 = 9 kW, not under 9 (limit 10 − default margin 1)
    const low = { a: 0.8, b: 0.9, c: 3 };
    expect(run(dr, 65, 400, low)).toEqual([]);
    dr.setLimit(10.5, 'operator'); // margin 1.05: 9 < 9.45
    expect(run(dr, 405, 520, low)).toEqual([]); // 115 s
    const released = dr.evaluate(at(525), demands(525, low));
    expect(kinds(released)).toEqual(['release:a', 'release:b', 'event-end']);
    expect(released[0]?.reason).toBe(
      'restored total 9 kW < limit 10.5 − margin 1.05 kW for 120 s; releasing a',
    );
    expect(released[2]?.reason).toContain('2 meters released, peak 14 kW');
    expect(released[2]?.peakKw).toBe(14);
    expect(dr.snapshot()).toMatchObject({ state: 'normal', shed: [], failed: [] });
  });

  it('restarts the release hold when the total comes back up near the boundary', () => {
    const dr = shedding({ releaseMarginKw: 1 });
    dr.setLimit(13, 'operator'); // release below 13 − 1 = 12 kW restored (3 + 3 + c)
    // c wobbles 5.9 / 6.1 every 50 s: restored 11.9 (under) then 12.1 (not), never for 120 s
    const wobble = (s: number) => ({ a: 0.8, b: 0.9, c: Math.floor(s / 50) % 2 === 0 ? 5.9 : 6.1 });
    expect(run(dr, 65, 1200, wobble)).toEqual([]);
    expect(dr.snapshot().state).toBe('shedding');
  });

  it('logs a limit change as a decision with the numbers', () => {
    const dr = createDemandResponse(RULE);
    dr.evaluate(at(0), demands(0, { a: 4, b: 3 }));
    expect(dr.setLimit(6.5, 'http:127.0.0.1')).toEqual({
      kind: 'limit-change',
      reason: 'limit 10 kW → 6.5 kW by http:127.0.0.1; total now 7 kW',
    });
    expect(dr.snapshot()).toMatchObject({ limitKw: 6.5, releaseMarginKw: 0.65 });
  });
});
