import type { MeterEvent, MeterModel } from '../meter/model.js';

// The meter's latest events, for the power-quality command (PROTOCOL §4 pq: recent events). A
// fixed-size ring (STYLE §9): the oldest event falls out when it is full.

export const RECENT_EVENTS_CAPACITY = 256;

export interface RecentEvents {
  /** Events at or after `since`, oldest first. */
  since(since: Date): MeterEvent[];
  stop(): void;
}

export function trackRecentEvents(
  meter: Pick<MeterModel, 'onEvent'>,
  capacity = RECENT_EVENTS_CAPACITY,
): RecentEvents {
  const ring: MeterEvent[] = [];
  let next = 0;
  const unsubscribe = meter.onEvent((event) => {
    if (ring.length < capacity) ring.push(event);
    else ring[next] = event;
    next = (next + 1) % capacity;
  });
  return {
    since(since) {
      const ordered = ring.length < capacity ? ring : [...ring.slice(next), ...ring.slice(0, next)];
      return ordered.filter((event) => event.ts.getTime() >= since.getTime());
    },
    stop: unsubscribe,
  };
}
