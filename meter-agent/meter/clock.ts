// Time as a dependency (STYLE §7): the meter reads the time and arms timers only through a Clock,
// so tests can drive a simulated day in milliseconds and replay it exactly.

export interface Clock {
  now(): Date;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// Looks the globals up on every call (not once at import) so vitest fake timers, installed after
// this module loads, still take effect.
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
