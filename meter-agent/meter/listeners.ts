// A small listener set: unsubscribe is idempotent, a listener may unsubscribe while being
// called, and one listener throwing neither stops the others nor leaves the meter half-updated.

export interface ListenerSet<T> {
  add(listener: (value: T) => void): () => void;
  emit(value: T): void;
  clear(): void;
}

/** By default a listener's error is rethrown on a fresh microtask, after the meter's own work. */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

export function createListenerSet<T>(onError: (error: unknown) => void): ListenerSet<T> {
  const listeners = new Set<(value: T) => void>();
  return {
    add(listener) {
      // Wrap so that the same function added twice is two subscriptions, each removable once.
      const entry = (value: T) => listener(value);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    emit(value) {
      for (const listener of [...listeners]) {
        // Skip one that an earlier listener removed during this same emit.
        if (!listeners.has(listener)) continue;
        try {
          listener(value);
        } catch (error) {
          onError(error);
        }
      }
    },
    clear() {
      listeners.clear();
    },
  };
}
