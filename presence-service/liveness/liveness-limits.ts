import type { LivenessConfig, LivenessLimits } from '../config.js';

// Which liveness limits apply to which meter (docs/liveness.md): the defaults, or a group's own
// for meters on slow links. A meter in several such groups gets the most lenient value of each
// key, so that no membership can make a slow meter raise false alarms.

export function resolveLivenessLimits(
  config: Pick<LivenessConfig, 'quietS' | 'pingTimeoutMs' | 'tries' | 'groups'>,
  membersOf: (group: string) => readonly string[],
): { defaults: LivenessLimits; byMeter: Map<string, LivenessLimits> } {
  const defaults: LivenessLimits = {
    quietS: config.quietS,
    pingTimeoutMs: config.pingTimeoutMs,
    tries: config.tries,
  };
  const byMeter = new Map<string, LivenessLimits>();
  for (const [group, override] of Object.entries(config.groups)) {
    const limits = { ...defaults, ...override };
    for (const meterId of membersOf(group)) {
      const earlier = byMeter.get(meterId);
      byMeter.set(meterId, earlier ? mostLenient(earlier, limits) : limits);
    }
  }
  return { defaults, byMeter };
}

function mostLenient(a: LivenessLimits, b: LivenessLimits): LivenessLimits {
  return {
    quietS: Math.max(a.quietS, b.quietS),
    pingTimeoutMs: Math.max(a.pingTimeoutMs, b.pingTimeoutMs),
    tries: Math.max(a.tries, b.tries),
  };
}

/** The longest a dead meter can stay recorded as alive under these limits (docs/liveness.md). */
export function worstCaseDetectionMs(limits: LivenessLimits, sweepEveryMs: number): number {
  return limits.quietS * 1000 + sweepEveryMs + limits.tries * limits.pingTimeoutMs;
}
