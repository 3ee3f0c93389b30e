import type { RecordedChange } from '../store/presence-store.js';

// Fan-out of recorded state changes to whoever follows them live (SSE clients, group summaries).
// Synchronous on purpose: a change is published right after its transaction commits, so every
// listener sees changes in history-id order and nothing is queued here (STYLE §9).

export type ChangeListener = (change: RecordedChange) => void;

export interface ChangeBus {
  publish(change: RecordedChange): void;
  /** Returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
  listenerCount(): number;
}

export function createChangeBus(
  options: {
    /** Told about a listener that threw (e.g. to log it); must not throw itself. */
    onListenerError?: (error: unknown) => void;
  } = {},
): ChangeBus {
  const listeners = new Set<ChangeListener>();
  return {
    publish(change) {
      // Iterate over a copy: a listener may unsubscribe (itself or another) while we deliver.
      for (const listener of [...listeners]) {
        try {
          listener(change);
        } catch (error) {
          // The publisher is the presence path and the change is already on disk: one broken
          // consumer (say, an SSE socket that died mid-write) must neither stop the others nor
          // surface as a failure of the presence that caused it.
          try {
            options.onListenerError?.(error);
          } catch {
            // A failing error reporter is ignored for the same reason.
          }
        }
      }
    },
    subscribe(listener) {
      // Wrap so the same function may subscribe twice and each unsubscribe removes only its own.
      const entry: ChangeListener = (change) => listener(change);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    listenerCount() {
      return listeners.size;
    },
  };
}
