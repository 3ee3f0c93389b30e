import type { MeterModel } from '../meter/model.js';
import type { ModeController } from '../presence/mode-controller.js';
import type { CommandDefinition } from './command.js';
import {
  badField,
  booleanValue,
  commandNode,
  integerValue,
  positiveDecimalValue,
  singleValue,
} from './field-values.js';

// PROTOCOL §4 load-limit (operator): caps the import at `limit-kw` for `duration-min` minutes,
// or `clear`s the limit. The mode controller keeps it on disk and ends it by itself; while it
// holds the meter is `restricted`/`load-limit`.

export type LoadLimitArgs =
  | { clear: true }
  | { clear: false; limitKw: number; durationMin: number };

export const LOAD_LIMIT_BOUNDS = { maxKw: 10_000, minMinutes: 1, maxMinutes: 1440 } as const;

export function createLoadLimitCommand(deps: {
  meter: MeterModel;
  modes: ModeController;
}): CommandDefinition<LoadLimitArgs> {
  const { meter, modes } = deps;
  return {
    name: 'load-limit',
    node: commandNode('load-limit'),
    label: 'Load limit',
    role: 'operator',
    marksActive: true,
    changesMeter: (args) => !args.clear || modes.modes.loadLimit !== null,
    supported: meter.supportsLoadLimit,
    form: () => ({
      title: 'Load limit',
      instructions: 'Limit the import for a while, or clear the limit in force.',
      fields: [
        { var: 'limit-kw', type: 'text-single', label: 'Limit (kW, greater than 0)' },
        {
          var: 'duration-min',
          type: 'text-single',
          label: `Duration (minutes, ${LOAD_LIMIT_BOUNDS.minMinutes}-${LOAD_LIMIT_BOUNDS.maxMinutes})`,
          value: '60',
        },
        { var: 'clear', type: 'boolean', label: 'Clear the limit in force', value: 'false' },
      ],
    }),
    parse(raw) {
      if (booleanValue(raw, 'clear', false)) {
        // Ambiguous: the operator cannot both set and clear a limit.
        if (singleValue(raw, 'limit-kw') !== undefined) {
          throw badField('clear', 'give either clear or a limit-kw, not both');
        }
        return { clear: true };
      }
      const limitKw = positiveDecimalValue(raw, 'limit-kw', LOAD_LIMIT_BOUNDS.maxKw);
      const durationMin = integerValue(raw, 'duration-min', {
        min: LOAD_LIMIT_BOUNDS.minMinutes,
        max: LOAD_LIMIT_BOUNDS.maxMinutes,
      });
      return { clear: false, limitKw, durationMin };
    },
    run(args, ctx) {
      if (args.clear) {
        const had = modes.modes.loadLimit !== null;
        modes.setLoadLimit(null);
        return {
          title: 'Load limit',
          fields: [{ var: 'limit', type: 'text-single', label: 'Load limit', value: 'none' }],
          text: had ? 'Load limit cleared.' : 'No load limit was in force.',
        };
      }
      const until = new Date(ctx.now.getTime() + args.durationMin * 60_000);
      modes.setLoadLimit({ limitKw: args.limitKw, until });
      const untilText = until.toISOString().replace(/\.\d{3}Z$/, 'Z');
      return {
        title: 'Load limit',
        fields: [
          {
            var: 'limit-kw',
            type: 'text-single',
            label: 'Load limit (kW)',
            value: String(args.limitKw),
          },
          { var: 'until', type: 'text-single', label: 'Until (UTC)', value: untilText },
        ],
        text: `Load limit ${args.limitKw} kW until ${untilText}.`,
      };
    },
  };
}
