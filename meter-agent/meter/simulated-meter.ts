// The simulated meter driver: plausible, seeded, replayable readings and events behind the
// MeterModel interface, plus `inject` so tests and technicians can drive every condition of
// PROTOCOL §1 on purpose. Same seed and same clock sequence give the same registers and events.

import { createConditionStore } from './condition-store.js';
import { createElectricalSampler } from './electrical.js';
import { MeterControlError } from './errors.js';
import {
  INJECTION_DEFAULTS,
  type InjectionArgs,
  resolveVoltageEventArgs,
  type SimulationInjection,
  type VoltageEventType,
} from './injections.js';
import { createListenerSet, rethrowLater } from './listeners.js';
import { createMetrology } from './metrology.js';
import {
  HEALTHY_CONDITION,
  type MeterEvent,
  type MeterModel,
  type Phase,
  type RelayState,
} from './model.js';
import { resolveOptions, type SimulatedMeterOptions } from './options.js';
import { drawPlant } from './plant.js';
import { createPrng } from './prng.js';
import { createRandomEventSource, type RandomOccurrence } from './random-events.js';
import { renderRegisters } from './registers.js';

export { type Clock, systemClock } from './clock.js';
export {
  type InjectionArgs,
  isSimulationInjection,
  SIMULATION_INJECTIONS,
  type SimulationInjection,
} from './injections.js';
export type { SimulatedMeterOptions } from './options.js';

export interface SimulatedMeter extends MeterModel {
  /** Makes one thing happen now, synchronously; see SIMULATION_INJECTIONS. */
  inject(name: SimulationInjection, args?: InjectionArgs): void;
}

export function createSimulatedMeter(options: SimulatedMeterOptions): SimulatedMeter {
  const opts = resolveOptions(options);
  const { clock } = opts;
  const onListenerError = opts.onListenerError ?? rethrowLater;
  const phases: readonly Phase[] = opts.phases === 3 ? ['L1', 'L2', 'L3'] : ['L1'];

  // Separate streams, so a random event never shifts the noise on the registers and vice versa.
  const { plant, initialImportKwh, initialExportKwh } = drawPlant(
    opts,
    createPrng(opts.seed, 'plant'),
  );
  const metrology = createMetrology({
    sampler: createElectricalSampler(plant, createPrng(opts.seed, 'physics')),
    initialAt: clock.now(),
    initialImportKwh,
    initialExportKwh,
  });
  const conditions = createConditionStore(HEALTHY_CONDITION, onListenerError);
  const events = createListenerSet<MeterEvent>(onListenerError);
  const counters = { sags: 0, swells: 0 };

  let running = false;
  let tickTimer: unknown = null;
  let interruptionStartedAtMs: number | null = null;
  // A random interruption's planned end, kept across stop/start so the supply does come back.
  let randomInterruptionEndsAtMs: number | null = null;
  let interruptionEndTimer: unknown = null;

  // Condition listeners hear of a change before event listeners, so an event listener that
  // reads condition() already sees its effect.
  const emit = (event: Omit<MeterEvent, 'ts'>): void => {
    events.emit(Object.freeze({ ts: clock.now(), ...event }));
  };

  const voltageEvent = (type: VoltageEventType, phase: Phase, magnitude: number, ms: number) => {
    if (type === 'sag') counters.sags += 1;
    if (type === 'swell') counters.swells += 1;
    emit({ type, phase, magnitude, durationMs: ms });
  };

  const changeRelay = (to: RelayState, detail: 'open' | 'close' | 'lockout'): void => {
    if (conditions.get().relay === to) return;
    metrology.setState(clock.now(), { connected: to === 'closed' });
    conditions.update({ relay: to });
    emit({ type: 'relay', detail });
  };

  const startInterruption = (): boolean => {
    if (conditions.get().onBattery) return false;
    const now = clock.now();
    metrology.setState(now, { energised: false });
    interruptionStartedAtMs = now.getTime();
    conditions.update({ onBattery: true });
    emit({ type: 'interruption', detail: 'start' });
    return true;
  };

  const cancelInterruptionEnd = (): void => {
    if (interruptionEndTimer !== null) clock.clearTimeout(interruptionEndTimer);
    interruptionEndTimer = null;
  };

  const endInterruption = (): void => {
    cancelInterruptionEnd();
    randomInterruptionEndsAtMs = null;
    if (!conditions.get().onBattery) return;
    const now = clock.now();
    metrology.setState(now, { energised: true });
    const durationMs =
      interruptionStartedAtMs === null ? undefined : now.getTime() - interruptionStartedAtMs;
    interruptionStartedAtMs = null;
    conditions.update({ onBattery: false });
    emit({
      type: 'interruption',
      detail: 'end',
      ...(durationMs === undefined ? {} : { durationMs }),
    });
  };

  const armInterruptionEnd = (): void => {
    if (!running || randomInterruptionEndsAtMs === null || interruptionEndTimer !== null) return;
    const delayMs = Math.max(0, randomInterruptionEndsAtMs - clock.now().getTime());
    interruptionEndTimer = clock.setTimeout(() => {
      interruptionEndTimer = null;
      endInterruption();
    }, delayMs);
  };

  const setTamper = (suspected: boolean): void => {
    if (conditions.update({ tamperSuspected: suspected })) {
      emit({ type: 'tamper', detail: suspected ? 'opened' : 'cleared' });
    }
  };

  const setSensorFailure = (failed: boolean): void => {
    // The metrology board is gone: readings freeze and no energy is counted meanwhile.
    metrology.setState(clock.now(), { sensing: !failed });
    conditions.update({ sensorFailure: failed });
  };

  const setClockSynced = (synced: boolean): void => {
    if (conditions.update({ clockSynced: synced })) {
      emit({ type: 'clock', detail: synced ? 'synced' : 'lost' });
    }
  };

  const onRandomOccurrence = (occurrence: RandomOccurrence): void => {
    const now = conditions.get();
    switch (occurrence.kind) {
      case 'sag':
      case 'swell':
      case 'thd-high':
        // With no voltage, or no metrology board, there is nothing to detect.
        if (now.onBattery || now.sensorFailure) return;
        voltageEvent(
          occurrence.kind,
          occurrence.phase,
          occurrence.magnitude,
          occurrence.durationMs,
        );
        return;
      case 'interruption':
        if (!startInterruption()) return;
        randomInterruptionEndsAtMs = clock.now().getTime() + occurrence.durationMs;
        armInterruptionEnd();
        return;
      case 'tamper':
        setTamper(true);
        return;
    }
  };

  const randomEvents = createRandomEventSource({
    rng: createPrng(opts.seed, 'events'),
    clock,
    ratePerHour: opts.eventRatePerHour,
    phases,
    onOccurrence: onRandomOccurrence,
  });

  const scheduleTick = (): void => {
    tickTimer = clock.setTimeout(() => {
      tickTimer = null;
      metrology.tick(clock.now());
      if (running) scheduleTick();
    }, opts.registerTickMs);
  };

  const requireRelay = (): void => {
    if (!opts.supportsRelay) {
      throw new MeterControlError('not-supported', `meter ${opts.meterId} has no service relay`);
    }
  };

  return {
    kind: opts.kind,
    supportsRelay: opts.supportsRelay,

    start() {
      if (running) return;
      running = true;
      metrology.resume(clock.now());
      scheduleTick();
      randomEvents.start();
      armInterruptionEnd();
    },

    stop() {
      if (!running) return;
      running = false;
      metrology.pause(clock.now());
      if (tickTimer !== null) clock.clearTimeout(tickTimer);
      tickTimer = null;
      randomEvents.stop();
      cancelInterruptionEnd();
    },

    readRegisters(ids) {
      return renderRegisters(
        {
          reading: metrology.read(clock.now()),
          sagCount: counters.sags,
          swellCount: counters.swells,
          relay: conditions.get().relay,
          meterId: opts.meterId,
        },
        ids,
      );
    },

    condition: () => conditions.get(),

    supportsLoadLimit: true,
    setLoadLimit(limitKw) {
      metrology.setState(clock.now(), { loadLimitKw: limitKw });
    },
    setRelay(action) {
      requireRelay();
      if (conditions.get().relay === 'lockout') {
        // Opening a locked-out relay changes nothing; closing needs a technician's reset.
        if (action === 'open') return;
        throw new MeterControlError(
          'relay-lockout',
          `relay of meter ${opts.meterId} is locked out and cannot be closed remotely`,
        );
      }
      changeRelay(action === 'open' ? 'open' : 'closed', action);
    },

    onEvent: (listener) => events.add(listener),
    onCondition: (listener) => conditions.subscribe(listener),

    inject(name, args = {}) {
      switch (name) {
        case 'sag':
        case 'swell':
        case 'thd-high': {
          const { phase, magnitude, durationMs } = resolveVoltageEventArgs(name, args, phases);
          return voltageEvent(name, phase, magnitude, durationMs);
        }
        case 'interruption-start':
          startInterruption();
          return;
        case 'interruption-end':
          return endInterruption();
        case 'tamper':
          return setTamper(true);
        case 'tamper-clear':
          return setTamper(false);
        case 'relay-open':
          requireRelay();
          return changeRelay('open', 'open');
        case 'relay-close':
          // A technician's reset: also the way out of lockout.
          requireRelay();
          return changeRelay('closed', 'close');
        case 'relay-lockout':
          requireRelay();
          return changeRelay('lockout', 'lockout');
        case 'fault':
          conditions.update({ fault: args.fault ?? INJECTION_DEFAULTS.fault });
          return;
        case 'fault-clear':
          conditions.update({ fault: null });
          return;
        case 'sensor-failure':
          return setSensorFailure(true);
        case 'sensor-restore':
          return setSensorFailure(false);
        case 'clock-lost':
          return setClockSynced(false);
        case 'clock-synced':
          return setClockSynced(true);
        default: {
          // Names arrive from chat and technician tools too: refuse what the type cannot.
          const unknown: never = name;
          throw new RangeError(`unknown simulation injection: ${String(unknown)}`);
        }
      }
    },
  };
}
