// The Evt bitfield of SunSpec meter models 201-204 (M_EVENT_*) as our events (PROTOCOL §6) and
// condition (model.ts, and through deriveState the presence of PROTOCOL §1). A bit is a state
// the meter holds, so an event fires on its edges only, never again while it stays set.
//
//   bit  SunSpec                   rising edge                 falling edge    condition
//   2    M_EVENT_Power_Failure     interruption, 'start'       interruption,   onBattery
//                                                              'end' + duration
//   3    M_EVENT_Under_Voltage     sag (lowest phase, p.u.)    none            (none)
//   4    M_EVENT_Low_PF            none: no such event type    none            (none)
//   5    M_EVENT_Over_Current      none: no such event type    none            (none)
//   6    M_EVENT_Over_Voltage      swell (highest phase, p.u.) none            (none)
//   7    M_EVENT_Missing_Sensor    none: no such event type    none            sensorFailure
//   8-15 M_EVENT_Reserved1-8, 16-30 M_EVENT_OEM01-15: meaning unknown to us; logged only.
//
// Why: a power failure is the supply interruption of PROTOCOL §6 and, while it lasts, the
// meter's on-battery condition (restricted/on-battery). Under and over voltage are what sag and
// swell mean; the meter reports no duration, so the event carries none. A missing sensor is a
// metrology sensor the meter cannot read: unavailable/sensor-failure, as for a lost link.
// Low power factor and over current are load conditions with no PROTOCOL §6 event type and no
// presence reason; they are logged, not invented into another type.

import type { MeterEvent, Phase } from '../model.js';
import type { SunSpecMeterSample } from './sunspec-meter-model.js';

export const METER_EVENT_BITS = {
  M_EVENT_Power_Failure: 2,
  M_EVENT_Under_Voltage: 3,
  M_EVENT_Low_PF: 4,
  M_EVENT_Over_Current: 5,
  M_EVENT_Over_Voltage: 6,
  M_EVENT_Missing_Sensor: 7,
} as const;

export type MeterEventBitName = keyof typeof METER_EVENT_BITS;

export interface EventEdge {
  bit: number;
  /** The SunSpec symbol, e.g. 'M_EVENT_Power_Failure', 'M_EVENT_OEM03'. */
  name: string;
  rising: boolean;
}

const NAME_BY_BIT = new Map<number, string>(
  Object.entries(METER_EVENT_BITS).map(([name, bit]) => [bit, name]),
);

export function eventBitName(bit: number): string {
  const known = NAME_BY_BIT.get(bit);
  if (known) return known;
  if (bit >= 8 && bit <= 15) return `M_EVENT_Reserved${bit - 7}`;
  if (bit >= 16 && bit <= 30) return `M_EVENT_OEM${String(bit - 15).padStart(2, '0')}`;
  return `bit ${bit}`;
}

export const isBitSet = (bits: number, bit: number) => Math.floor(bits / 2 ** bit) % 2 === 1;

/** The bits that changed between two polls, lowest first. */
export function eventEdges(previous: number, current: number): EventEdge[] {
  const edges: EventEdge[] = [];
  for (let bit = 0; bit < 32; bit += 1) {
    const was = isBitSet(previous, bit);
    const now = isBitSet(current, bit);
    if (was !== now) edges.push({ bit, name: eventBitName(bit), rising: now });
  }
  return edges;
}

/** The part of the meter condition the event bits decide. */
export function conditionOfEventBits(bits: number): { onBattery: boolean; missingSensor: boolean } {
  return {
    onBattery: isBitSet(bits, METER_EVENT_BITS.M_EVENT_Power_Failure),
    missingSensor: isBitSet(bits, METER_EVENT_BITS.M_EVENT_Missing_Sensor),
  };
}

export interface EdgeContext {
  /** The poll that showed the edge (for the phase and magnitude of a sag or swell). */
  sample: SunSpecMeterSample;
  nominalVoltageV: number;
  /** On the falling edge of a power failure: how long it lasted, if the rise was seen. */
  interruptionMs?: number;
}

export type EventDraft = Omit<MeterEvent, 'ts'>;

/** The event an edge means (table above), or null when it means none. */
export function eventOfEdge(edge: EventEdge, context: EdgeContext): EventDraft | null {
  switch (edge.bit) {
    case METER_EVENT_BITS.M_EVENT_Power_Failure:
      if (edge.rising) return { type: 'interruption', detail: 'start' };
      return {
        type: 'interruption',
        detail: 'end',
        ...(context.interruptionMs === undefined ? {} : { durationMs: context.interruptionMs }),
      };
    case METER_EVENT_BITS.M_EVENT_Under_Voltage:
      return edge.rising ? voltageEvent('sag', context) : null;
    case METER_EVENT_BITS.M_EVENT_Over_Voltage:
      return edge.rising ? voltageEvent('swell', context) : null;
    default:
      return null;
  }
}

const PHASES: readonly Phase[] = ['L1', 'L2', 'L3'];

/** A sag names its lowest phase, a swell its highest, in per-unit of the nominal voltage. */
function voltageEvent(type: 'sag' | 'swell', context: EdgeContext): EventDraft {
  let chosen: { phase: Phase; volts: number } | null = null;
  for (const [i, volts] of context.sample.phaseVoltagesV.entries()) {
    const phase = PHASES[i];
    if (volts === null || phase === undefined) continue;
    if (chosen === null || (type === 'sag' ? volts < chosen.volts : volts > chosen.volts)) {
      chosen = { phase, volts };
    }
  }
  if (chosen === null || !(context.nominalVoltageV > 0)) return { type };
  const magnitude = Math.round((chosen.volts / context.nominalVoltageV) * 1000) / 1000;
  return { type, phase: chosen.phase, magnitude };
}
