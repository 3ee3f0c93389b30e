import {
  isLogLevel,
  LOG_LEVELS,
  type LogLevel,
  type LogLevelControl,
} from '../../src/log-level.js';
import type { CommandDefinition } from './command.js';
import { badField, clip, commandNode, integerValue, requiredValue } from './field-values.js';

// docs/protocol.md "Extensions": `log-level` (admin), beyond PROTOCOL §4. Sets the agent's log
// level while it runs, by default for an hour, after which the configured level returns, so a
// forgotten `debug` does not fill a small disk.

export interface LogLevelArgs {
  level: LogLevel;
  /** 0 keeps the level until the next change or restart. */
  minutes: number;
}

export const LOG_LEVEL_MINUTES = { min: 0, max: 10_080, fallback: 60 } as const;

export function createLogLevelCommand(deps: {
  logLevel: LogLevelControl;
}): CommandDefinition<LogLevelArgs> {
  const { logLevel } = deps;
  return {
    name: 'log-level',
    node: commandNode('log-level'),
    label: 'Log level',
    role: 'admin',
    form: () => {
      const state = logLevel.state();
      return {
        title: 'Log level',
        instructions: `The agent's log level now (configured: ${state.configured}). After the minutes it returns to the configured level; 0 keeps it until the next change or restart.`,
        fields: [
          {
            var: 'level',
            type: 'list-single',
            label: 'Log level',
            required: true,
            value: state.level,
            options: LOG_LEVELS.map((level) => ({ value: level, label: level })),
          },
          {
            var: 'minutes',
            type: 'text-single',
            label: `Revert after (minutes, ${LOG_LEVEL_MINUTES.min}-${LOG_LEVEL_MINUTES.max}; 0 = keep)`,
            value: String(LOG_LEVEL_MINUTES.fallback),
          },
        ],
      };
    },
    parse(raw) {
      const level = requiredValue(raw, 'level').toLowerCase();
      if (!isLogLevel(level)) {
        throw badField('level', `'${clip(level)}' is not a level (${LOG_LEVELS.join(', ')})`);
      }
      return { level, minutes: integerValue(raw, 'minutes', LOG_LEVEL_MINUTES) };
    },
    run(args, ctx) {
      const state = logLevel.set(args.level, args.minutes, ctx.from);
      const until = state.revertsAt ? ` until ${state.revertsAt}, then ${state.configured}` : '';
      return {
        title: 'Log level',
        fields: [
          { var: 'level', type: 'text-single', label: 'Log level', value: state.level },
          {
            var: 'configured',
            type: 'text-single',
            label: 'Configured log level',
            value: state.configured,
          },
          {
            var: 'reverts-at',
            type: 'text-single',
            label: 'Reverts at (UTC)',
            value: state.revertsAt ?? '',
          },
        ],
        text: `Log level ${state.level}${until}.`,
      };
    },
  };
}
