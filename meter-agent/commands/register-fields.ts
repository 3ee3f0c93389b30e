import type { RegisterValue } from '../meter/model.js';
import { registerSpec } from '../meter/obis.js';
import type { ResultField } from './command.js';

// PROTOCOL §4: a result field's label names the register and its unit, e.g.
// 'Active energy import (kWh)'; the field's var is the OBIS id (PROTOCOL §6).

export function registerLabel(id: string, unit: string): string {
  const name = registerSpec(id)?.label ?? id;
  return unit ? `${name} (${unit})` : name;
}

export function registerField(register: RegisterValue): ResultField {
  return {
    var: register.id,
    type: 'text-single',
    label: registerLabel(register.id, register.unit),
    value: register.value,
  };
}

/** One line for a chat window: 'Voltage L1: 231.4 V'. */
export function registerLine(register: RegisterValue): string {
  const name = registerSpec(register.id)?.label ?? register.id;
  return `${name}: ${register.value}${register.unit ? ` ${register.unit}` : ''}`;
}
