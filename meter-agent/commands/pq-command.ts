import type { MeterEvent, MeterModel } from '../meter/model.js';
import { OBIS } from '../meter/obis.js';
import type { CommandDefinition, ResultField } from './command.js';
import { commandNode, integerValue } from './field-values.js';
import type { RecentEvents } from './recent-events.js';
import { registerField, registerLine } from './register-fields.js';

// PROTOCOL §4 pq (viewer): voltages, currents, THD, sag/swell counts, and the events of the
// last `window-min` minutes (from the agent's bounded ring of recent events).

export interface PqArgs {
  windowMin: number;
}

export const PQ_WINDOW = { min: 1, max: 1440, fallback: 15 } as const;

const PQ_REGISTERS = [
  OBIS.voltageL1,
  OBIS.voltageL2,
  OBIS.voltageL3,
  OBIS.currentL1,
  OBIS.currentL2,
  OBIS.currentL3,
  OBIS.voltageThd,
  OBIS.sagCount,
  OBIS.swellCount,
];

export function createPqCommand(deps: {
  meter: MeterModel;
  recentEvents: RecentEvents;
}): CommandDefinition<PqArgs> {
  const { meter, recentEvents } = deps;
  return {
    name: 'pq',
    node: commandNode('pq'),
    label: 'Power quality',
    role: 'viewer',
    form: () => ({
      title: 'Power quality',
      instructions: 'Voltages, currents, THD, sag/swell counts and the events of a recent window.',
      fields: [
        {
          var: 'window-min',
          type: 'text-single',
          label: `Event window (minutes, ${PQ_WINDOW.min}-${PQ_WINDOW.max})`,
          value: String(PQ_WINDOW.fallback),
        },
      ],
    }),
    parse: (raw) => ({ windowMin: integerValue(raw, 'window-min', PQ_WINDOW) }),
    run(args, ctx) {
      const registers = meter.readRegisters(PQ_REGISTERS);
      const events = recentEvents.since(new Date(ctx.now.getTime() - args.windowMin * 60_000));
      const eventLines = events.map(describeEvent);
      const fields: ResultField[] = [
        ...registers.map(registerField),
        {
          var: 'window-min',
          type: 'text-single',
          label: 'Event window (minutes)',
          value: String(args.windowMin),
        },
        {
          var: 'event-count',
          type: 'text-single',
          label: 'Number of events in the window',
          value: String(events.length),
        },
        { var: 'events', type: 'text-multi', label: 'Events in the window', value: eventLines },
      ];
      const summary = `${events.length} event(s) in the last ${args.windowMin} min`;
      return {
        title: 'Power quality',
        fields,
        text: [...registers.map(registerLine), summary, ...eventLines].join('\n'),
      };
    },
  };
}

/** '2026-11-27T14:02:03Z sag L1 0.8 pu 100 ms' */
export function describeEvent(event: MeterEvent): string {
  const parts = [event.ts.toISOString().replace(/\.\d{3}Z$/, 'Z'), event.type];
  if (event.phase) parts.push(event.phase);
  if (event.magnitude !== undefined) {
    parts.push(event.type === 'thd-high' ? `${event.magnitude} %` : `${event.magnitude} pu`);
  }
  if (event.durationMs !== undefined) parts.push(`${event.durationMs} ms`);
  if (event.detail) parts.push(event.detail);
  return parts.join(' ');
}
