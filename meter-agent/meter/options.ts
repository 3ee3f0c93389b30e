// Options of the simulated meter, their defaults and units, checked once at construction:
// a bad value fails at once with a message naming the key (STYLE §6).

import { type Clock, systemClock } from './clock.js';
import { LOAD_PROFILES, type LoadProfileName } from './load-profile.js';

export interface SimulatedMeterOptions {
  meterId: string;
  /** PROTOCOL §1 `kind`; default 'revenue-meter'. */
  kind?: string;
  /** Same seed and same clock sequence give the same registers and events. */
  seed: number;
  clock?: Clock;
  /** Default 230 V. */
  nominalVoltageV?: number;
  /** Default 3. */
  phases?: 1 | 3;
  /** Rated (maximum) current per phase; the peak demand is drawn as a fraction of it. Default 60 A. */
  ratedCurrentA?: number;
  /** Average random events per hour (Poisson); 0 disables them. Default 2. */
  eventRatePerHour?: number;
  /** How often the registers are sampled and integrated. Default 1000 ms. */
  registerTickMs?: number;
  /** Whether the meter has a service relay the agent may operate. Default true. */
  supportsRelay?: boolean;
  /** Default 'residential'. */
  loadProfile?: LoadProfileName;
  /** Rooftop PV peak; default drawn from the seed (1–3.5 kW); 0 means no PV. */
  pvPeakKw?: number;
  /** Where the customer's day starts, in minutes east of UTC. Default 0 (UTC). */
  utcOffsetMinutes?: number;
  /** Where an error thrown by a listener goes; default: rethrown on a fresh microtask. */
  onListenerError?: (error: unknown) => void;
}

export interface ResolvedOptions {
  meterId: string;
  kind: string;
  seed: number;
  clock: Clock;
  nominalVoltageV: number;
  phases: 1 | 3;
  ratedCurrentA: number;
  eventRatePerHour: number;
  registerTickMs: number;
  supportsRelay: boolean;
  loadProfile: LoadProfileName;
  pvPeakKw: number | undefined;
  utcOffsetMinutes: number;
  onListenerError: ((error: unknown) => void) | undefined;
}

function positive(key: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`simulated meter option ${key} must be a positive number, got ${value}`);
  }
  return value;
}

function nonNegative(key: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`simulated meter option ${key} must be zero or more, got ${value}`);
  }
  return value;
}

export function resolveOptions(options: SimulatedMeterOptions): ResolvedOptions {
  if (typeof options.meterId !== 'string' || options.meterId.length === 0) {
    throw new RangeError('simulated meter option meterId must be a non-empty string');
  }
  if (!Number.isSafeInteger(options.seed)) {
    throw new RangeError(`simulated meter option seed must be an integer, got ${options.seed}`);
  }
  const phases = options.phases ?? 3;
  if (phases !== 1 && phases !== 3) {
    throw new RangeError(`simulated meter option phases must be 1 or 3, got ${phases}`);
  }
  const loadProfile = options.loadProfile ?? 'residential';
  if (!LOAD_PROFILES.includes(loadProfile)) {
    throw new RangeError(`simulated meter option loadProfile must be one of ${LOAD_PROFILES}`);
  }
  return {
    meterId: options.meterId,
    kind: options.kind ?? 'revenue-meter',
    seed: options.seed,
    clock: options.clock ?? systemClock,
    nominalVoltageV: positive('nominalVoltageV', options.nominalVoltageV ?? 230),
    phases,
    ratedCurrentA: positive('ratedCurrentA', options.ratedCurrentA ?? 60),
    eventRatePerHour: nonNegative('eventRatePerHour', options.eventRatePerHour ?? 2),
    registerTickMs: positive('registerTickMs', options.registerTickMs ?? 1000),
    supportsRelay: options.supportsRelay ?? true,
    loadProfile,
    pvPeakKw:
      options.pvPeakKw === undefined ? undefined : nonNegative('pvPeakKw', options.pvPeakKw),
    utcOffsetMinutes: options.utcOffsetMinutes ?? 0,
    onListenerError: options.onListenerError,
  };
}
