import { h } from './dom.js';

// PROTOCOL §1's five states as the dashboard shows them: the same colour everywhere (CSS custom
// properties `--state-<name>`, read here for the charts), and always with their name and a
// shape, never by colour alone.

export const STATES = ['available', 'active', 'restricted', 'unavailable', 'decoupled'] as const;
export type MeterState = (typeof STATES)[number];

export const STATE_LABELS: Record<MeterState, string> = {
  available: 'Available',
  active: 'Active',
  restricted: 'Restricted',
  unavailable: 'Unavailable',
  decoupled: 'Decoupled',
};

export const STATE_MEANINGS: Record<MeterState, string> = {
  available: 'connected and healthy',
  active: 'carrying out a power-management function',
  restricted: 'connected, some functions limited',
  unavailable: 'connected, cannot perform its function',
  decoupled: 'not connected',
};

export function isState(value: string): value is MeterState {
  return (STATES as readonly string[]).includes(value);
}

/** The state's colour, from the stylesheet (one source for the page and the canvas). */
export function stateColour(state: MeterState): string {
  return getComputedStyle(document.documentElement).getPropertyValue(`--state-${state}`).trim();
}

export interface Reason {
  code: string;
  text: string | null;
}

/** A badge: shape, name, and the reason code when there is one. */
export function stateBadge(state: MeterState, reason?: Reason | null): HTMLElement {
  return h(
    'span',
    { class: `state state-${state}`, title: reason?.text ?? STATE_MEANINGS[state] },
    h('span', { class: 'state-shape', 'aria-hidden': 'true' }),
    STATE_LABELS[state],
    reason ? h('span', { class: 'state-reason' }, reason.code) : null,
  );
}
