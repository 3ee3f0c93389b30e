// PROTOCOL §1: the five meter states, their standard <show>, and typical reasons.

export const METER_STATES = [
  'available',
  'active',
  'restricted',
  'unavailable',
  'decoupled',
] as const;
export type MeterState = (typeof METER_STATES)[number];

/** RFC 6121 §4.7.2.1 <show> values we use; `undefined` means no <show> (plain available). */
export type Show = 'chat' | 'away' | 'dnd' | 'xa';

/** PROTOCOL §1 table: the <show> that any chat client understands for each connected state. */
export const SHOW_FOR_STATE: Record<Exclude<MeterState, 'decoupled'>, Show | undefined> = {
  available: undefined,
  active: 'chat',
  restricted: 'away',
  unavailable: 'dnd',
};

export function isMeterState(value: string): value is MeterState {
  return (METER_STATES as readonly string[]).includes(value);
}

/** What a chat client shows, read back into our state (used by operator-side tools and tests). */
export function stateFromShow(type: string | undefined, show: string | undefined): MeterState {
  if (type === 'unavailable') return 'decoupled';
  switch (show) {
    case 'chat':
      return 'active';
    case 'away':
    case 'xa':
      return 'restricted';
    case 'dnd':
      return 'unavailable';
    default:
      return 'available';
  }
}
