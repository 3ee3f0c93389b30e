import type { Session } from './api.js';
import type { LiveFeed } from './live.js';
import type { Route } from './router.js';

// What every view gets and gives back: the session and the live feed in, and a way to take it
// down (every subscription and timer it started) when the page moves on.

export interface ViewContext {
  session: Session;
  live: LiveFeed;
  /** Where the view draws; emptied before each view. */
  main: HTMLElement;
  /** Shows an error to the user in the page's alert region. */
  alert(message: string): void;
}

export interface View {
  /** A new route for the same view (its filters changed): true if handled in place. */
  update?(route: Route): boolean;
  destroy(): void;
}

export type ViewFactory = (ctx: ViewContext, route: Route) => View;

/** Collects clean-ups as a view starts things, and runs them all at the end. */
export function disposer(): { add(fn: () => void): void; run(): void } {
  const fns: Array<() => void> = [];
  return {
    add: (fn) => {
      fns.push(fn);
    },
    run: () => {
      for (const fn of fns.splice(0).reverse()) fn();
    },
  };
}
