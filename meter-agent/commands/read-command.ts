import type { MeterModel } from '../meter/model.js';
import { REGISTER_TABLE } from '../meter/obis.js';
import type { CommandDefinition } from './command.js';
import { badField, clip, commandNode } from './field-values.js';
import { registerField, registerLabel, registerLine } from './register-fields.js';

// PROTOCOL §4 read (viewer): the registers asked for, or all of them when none is chosen.

export interface ReadArgs {
  /** OBIS ids; empty means all. */
  registers: string[];
}

const KNOWN_IDS = new Set(REGISTER_TABLE.map((spec) => spec.id));

export function createReadCommand(deps: { meter: MeterModel }): CommandDefinition<ReadArgs> {
  const { meter } = deps;
  return {
    name: 'read',
    node: commandNode('read'),
    label: 'Read registers',
    role: 'viewer',
    // Also the register query (an IQ get for programs), through the same checks and audit.
    doors: ['adhoc', 'chat', 'iq'],
    form: () => ({
      title: 'Read registers',
      instructions: 'Choose the registers to read; choose none to read them all.',
      fields: [
        {
          var: 'registers',
          type: 'list-multi',
          label: 'Registers (none = all)',
          options: REGISTER_TABLE.map((spec) => ({
            value: spec.id,
            label: `${registerLabel(spec.id, spec.unit)} ${spec.id}`,
          })),
        },
      ],
    }),
    parse(raw) {
      const registers = [...new Set((raw.registers ?? []).map((v) => v.trim()).filter(Boolean))];
      const unknown = registers.find((id) => !KNOWN_IDS.has(id));
      if (unknown !== undefined) {
        throw badField(
          'registers',
          `unknown register '${clip(unknown)}' (OBIS ids, e.g. 1-0:1.8.0)`,
        );
      }
      return { registers };
    },
    run(args) {
      const values = meter.readRegisters(args.registers);
      return {
        title: 'Registers',
        fields: values.map(registerField),
        text: values.map(registerLine).join('\n'),
        registers: values,
      };
    },
  };
}
