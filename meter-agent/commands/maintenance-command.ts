import type { ModeController } from '../presence/mode-controller.js';
import type { CommandDefinition } from './command.js';
import { badField, booleanValue, commandNode, singleValue } from './field-values.js';

// PROTOCOL §4 maintenance (operator): while on, the meter is `unavailable`/`maintenance` and the
// note is the reason's text.

export interface MaintenanceArgs {
  enable: boolean;
  note: string;
}

export const MAINTENANCE_NOTE_MAX = 200;

export function createMaintenanceCommand(deps: {
  modes: ModeController;
}): CommandDefinition<MaintenanceArgs> {
  const { modes } = deps;
  return {
    name: 'maintenance',
    node: commandNode('maintenance'),
    label: 'Maintenance mode',
    role: 'operator',
    form: () => ({
      title: 'Maintenance mode',
      instructions: 'While on, the meter reports itself unavailable for maintenance.',
      fields: [
        {
          var: 'enable',
          type: 'boolean',
          label: 'Maintenance mode on',
          required: true,
          value: modes.modes.maintenance ? 'true' : 'false',
        },
        {
          var: 'note',
          type: 'text-single',
          label: `Note (shown in the presence, at most ${MAINTENANCE_NOTE_MAX} characters)`,
        },
      ],
    }),
    parse(raw) {
      const enable = booleanValue(raw, 'enable');
      const note = (singleValue(raw, 'note') ?? '').replace(/\s+/g, ' ');
      if (note.length > MAINTENANCE_NOTE_MAX) {
        throw badField('note', `at most ${MAINTENANCE_NOTE_MAX} characters`);
      }
      return { enable, note };
    },
    run(args) {
      modes.setMaintenance(args.enable ? args.note : null);
      const state = args.enable ? 'on' : 'off';
      const fields = [
        {
          var: 'maintenance',
          type: 'text-single' as const,
          label: 'Maintenance mode',
          value: state,
        },
      ];
      if (args.enable && args.note) {
        fields.push({ var: 'note', type: 'text-single', label: 'Note', value: args.note });
      }
      return {
        title: 'Maintenance mode',
        fields,
        text: `Maintenance mode ${state}${args.enable && args.note ? `: ${args.note}` : ''}.`,
      };
    },
  };
}
