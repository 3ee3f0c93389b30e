// The Modbus TCP meter driver: a SunSpec meter (models 201-204) behind the MeterModel
// interface. It polls the meter model every pollIntervalMs and keeps the last good poll, which
// readRegisters() renders (MeterModel is synchronous). The Evt bits drive events and condition
// (sunspec-events.ts). A failed connect or read (refused, timeout, Modbus exception) marks the
// condition sensorFailure, so the agent shows unavailable/sensor-failure (PROTOCOL §1); the
// driver reconnects with jittered backoff, finds the map again and recovers by itself.

import type { Logger } from '../../../src/log.js';
import { createBackoff } from '../../../src/xmpp/backoff.js';
import { type Clock, systemClock } from '../clock.js';
import { createConditionStore } from '../condition-store.js';
import { MeterControlError } from '../errors.js';
import { createListenerSet, rethrowLater } from '../listeners.js';
import { HEALTHY_CONDITION, type MeterEvent, type MeterModel } from '../model.js';
import { type ModbusLink, type ModbusLinkOptions, openModbusLink } from './modbus-link.js';
import { readSunSpecIdentity, readSunSpecMeter } from './sunspec-device.js';
import {
  conditionOfEventBits,
  type EventDraft,
  eventEdges,
  eventOfEdge,
  METER_EVENT_BITS,
} from './sunspec-events.js';
import { discoverSunSpecMap, type SunSpecMap } from './sunspec-map.js';
import type { SunSpecMeterSample } from './sunspec-meter-model.js';
import { renderSunSpecRegisters } from './sunspec-registers.js';

export interface ModbusMeterOptions {
  meterId: string;
  kind: string;
  host: string;
  port: number;
  unitId: number;
  /** Where "SunS" is; left out, 40000, 0 and 50000 are tried. */
  baseAddress?: number;
  pollIntervalMs: number;
  /** Bound on the connect and on each request. */
  timeoutMs: number;
  /** Cap of the reconnect backoff; its base is pollIntervalMs. */
  backoffMaxMs: number;
  /** Sag and swell magnitudes are per-unit of this. */
  nominalVoltageV: number;
  logger: Logger;
  clock?: Clock;
  onListenerError?: (error: unknown) => void;
  /** The link factory; tests pass an in-memory one. */
  connect?: (options: ModbusLinkOptions) => Promise<ModbusLink>;
  random?: () => number;
}

export function createModbusMeter(options: ModbusMeterOptions): MeterModel {
  const { logger, meterId } = options;
  const clock = options.clock ?? systemClock;
  const connect = options.connect ?? openModbusLink;
  const where = `unit ${options.unitId} at ${options.host}:${options.port}`;
  // Optimistic until the first poll says otherwise: announcing sensor-failure at every start,
  // only to take it back a few milliseconds later, would cost two presence changes each time.
  const conditions = createConditionStore(
    HEALTHY_CONDITION,
    options.onListenerError ?? rethrowLater,
  );
  const events = createListenerSet<MeterEvent>(options.onListenerError ?? rethrowLater);
  const backoff = createBackoff({
    baseMs: options.pollIntervalMs,
    maxMs: Math.max(options.pollIntervalMs, options.backoffMaxMs),
    ...(options.random ? { random: options.random } : {}),
  });

  let running = false;
  /** Bumped by start and stop, so a cycle of an earlier run never schedules another. */
  let generation = 0;
  let timer: unknown = null;
  let link: ModbusLink | null = null;
  let map: SunSpecMap | null = null;
  let lastSample: SunSpecMeterSample | null = null;
  /** The Evt bits of the last good poll: edges are counted against them, across outages too. */
  let lastBits = 0;
  let interruptionStartedAtMs: number | null = null;
  let linkDown = false;
  const counters = { sags: 0, swells: 0 };

  const dropLink = () => {
    link?.close();
    link = null;
    map = null;
  };

  const ensureLink = async (runOf: number): Promise<{ link: ModbusLink; map: SunSpecMap }> => {
    if (link?.isOpen && map) return { link, map };
    dropLink();
    const fresh = await connect({
      host: options.host,
      port: options.port,
      unitId: options.unitId,
      timeoutMs: options.timeoutMs,
    });
    if (runOf !== generation) {
      // Stopped while connecting: this socket is nobody's (STYLE §8).
      fresh.close();
      throw new Error('the meter driver was stopped');
    }
    link = fresh;
    const found = await discoverSunSpecMap(fresh, options.baseAddress);
    const identity = await readSunSpecIdentity(fresh, found);
    map = found;
    logger.info(
      {
        ...identity,
        sunspecModel: found.meter.id,
        baseAddress: found.baseAddress,
        models: found.modelIds,
      },
      `SunSpec meter found at ${where}`,
    );
    return { link: fresh, map: found };
  };

  const applySample = (sample: SunSpecMeterSample): void => {
    const nowMs = clock.now().getTime();
    const bits = sample.eventBits ?? 0;
    const edges = eventEdges(lastBits, bits);
    lastBits = bits;
    lastSample = sample;
    let interruptionMs: number | undefined;
    for (const edge of edges) {
      if (edge.bit !== METER_EVENT_BITS.M_EVENT_Power_Failure) continue;
      if (edge.rising) interruptionStartedAtMs = nowMs;
      else if (interruptionStartedAtMs !== null) {
        interruptionMs = nowMs - interruptionStartedAtMs;
        interruptionStartedAtMs = null;
      }
    }
    const { onBattery, missingSensor } = conditionOfEventBits(bits);
    // Condition first, so an event listener that reads condition() already sees its effect.
    conditions.update({ onBattery, sensorFailure: missingSensor });
    for (const edge of edges) {
      const draft = eventOfEdge(edge, {
        sample,
        nominalVoltageV: options.nominalVoltageV,
        ...(interruptionMs === undefined ? {} : { interruptionMs }),
      });
      logger.info({ bit: edge.bit, symbol: edge.name, rising: edge.rising }, 'meter event bit');
      if (draft) emit(draft);
    }
  };

  const emit = (draft: EventDraft): void => {
    if (draft.type === 'sag') counters.sags += 1;
    if (draft.type === 'swell') counters.swells += 1;
    events.emit(Object.freeze({ ts: clock.now(), ...draft }));
  };

  const onFailure = (error: unknown): number => {
    dropLink();
    const message = error instanceof Error ? error.message : String(error);
    const delayMs = backoff.next();
    if (!linkDown) {
      linkDown = true;
      logger.warn({ err: message, retryInMs: delayMs }, `Modbus link to ${where} lost`);
    } else {
      logger.debug({ err: message, retryInMs: delayMs }, `Modbus link to ${where} still down`);
    }
    conditions.update({ sensorFailure: true });
    return delayMs;
  };

  const cycle = async (runOf: number): Promise<void> => {
    let delayMs = options.pollIntervalMs;
    try {
      const current = await ensureLink(runOf);
      const sample = await readSunSpecMeter(current.link, current.map);
      if (runOf !== generation) return;
      if (linkDown) {
        linkDown = false;
        logger.info(`Modbus link to ${where} back`);
      }
      backoff.reset();
      applySample(sample);
    } catch (error) {
      if (runOf !== generation) return;
      delayMs = onFailure(error);
    }
    schedule(runOf, delayMs);
  };

  const schedule = (runOf: number, delayMs: number): void => {
    if (!running || runOf !== generation) return;
    timer = clock.setTimeout(() => {
      timer = null;
      cycle(runOf).catch((error: unknown) => {
        // cycle() catches its own failures; this is a bug, so say so, and keep polling.
        logger.error({ err: String(error) }, 'Modbus poll failed unexpectedly');
        schedule(runOf, options.pollIntervalMs);
      });
    }, delayMs);
  };

  const notSupported = (what: string): never => {
    throw new MeterControlError(
      'not-supported',
      `meter ${meterId} (a SunSpec meter over Modbus) has no ${what}`,
    );
  };

  return {
    kind: options.kind,
    supportsRelay: false,
    supportsLoadLimit: false,

    start() {
      if (running) return;
      running = true;
      generation += 1;
      schedule(generation, 0);
    },

    stop() {
      if (!running) return;
      running = false;
      generation += 1;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      dropLink();
    },

    readRegisters: (ids) =>
      renderSunSpecRegisters(
        { sample: lastSample, sagCount: counters.sags, swellCount: counters.swells, meterId },
        ids,
      ),
    condition: () => conditions.get(),
    setRelay: () => notSupported('service relay'),
    setLoadLimit: () => notSupported('load limit control'),
    onEvent: (listener) => events.add(listener),
    onCondition: (listener) => conditions.subscribe(listener),
  };
}
