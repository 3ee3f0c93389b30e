import type { ReportingControl } from '../telemetry/start-telemetry.js';
import type { CommandDefinition } from './command.js';
import { commandNode, integerValue } from './field-values.js';

// PROTOCOL §4 reporting (operator): the telemetry period, 5-86400 s. Telemetry owns the value
// (it applies it at once and keeps it across restarts); this command only sets it.

export interface ReportingArgs {
  intervalS: number;
}

export const REPORTING_INTERVAL = { min: 5, max: 86_400 } as const;

export function createReportingCommand(deps: {
  reporting: ReportingControl;
}): CommandDefinition<ReportingArgs> {
  const { reporting } = deps;
  return {
    name: 'reporting',
    node: commandNode('reporting'),
    label: 'Reporting interval',
    role: 'operator',
    form: () => ({
      title: 'Reporting interval',
      instructions: 'How often the meter sends its readings to the presence service.',
      fields: [
        {
          var: 'interval-s',
          type: 'text-single',
          label: `Interval (seconds, ${REPORTING_INTERVAL.min}-${REPORTING_INTERVAL.max})`,
          required: true,
          value: String(reporting.intervalS),
        },
      ],
    }),
    parse: (raw) => ({ intervalS: integerValue(raw, 'interval-s', REPORTING_INTERVAL) }),
    run(args) {
      reporting.setIntervalS(args.intervalS);
      return {
        title: 'Reporting interval',
        fields: [
          {
            var: 'interval-s',
            type: 'text-single',
            label: 'Reporting interval (s)',
            value: String(reporting.intervalS),
          },
        ],
        text: `Reporting every ${reporting.intervalS} s.`,
      };
    },
  };
}
