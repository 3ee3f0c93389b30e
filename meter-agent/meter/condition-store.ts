// Holds the meter's condition and tells listeners exactly once per real change, so the agent
// announces a new presence the moment the cause happens and never for a no-op (PROTOCOL §1).

import { createListenerSet } from './listeners.js';
import type { MeterCondition } from './model.js';

export interface ConditionStore {
  /** A fresh copy. */
  get(): MeterCondition;
  /** Applies the patch; if anything actually changed, notifies listeners and returns true. */
  update(patch: Partial<MeterCondition>): boolean;
  subscribe(listener: (condition: MeterCondition) => void): () => void;
  clear(): void;
}

const KEYS: readonly (keyof MeterCondition)[] = [
  'relay',
  'tamperSuspected',
  'onBattery',
  'clockSynced',
  'fault',
  'sensorFailure',
];

export function createConditionStore(
  initial: MeterCondition,
  onListenerError: (error: unknown) => void,
): ConditionStore {
  let current: MeterCondition = { ...initial };
  const listeners = createListenerSet<MeterCondition>(onListenerError);
  return {
    get: () => ({ ...current }),
    update(patch) {
      const changed = KEYS.some((key) => key in patch && patch[key] !== current[key]);
      if (!changed) return false;
      current = { ...current, ...patch };
      // Frozen so that one listener cannot change what the next one sees.
      listeners.emit(Object.freeze({ ...current }));
      return true;
    },
    subscribe: (listener) => listeners.add(listener),
    clear: () => listeners.clear(),
  };
}
