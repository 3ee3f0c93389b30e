// Turns the meter's numbers into PROTOCOL §6 registers: OBIS id, fixed-precision decimal
// string, SI unit, as listed in obis.ts.

import type { MetrologyReading } from './metrology.js';
import type { RegisterValue, RelayState } from './model.js';
import { formatDecimal, OBIS, REGISTER_TABLE, type RegisterName, registerSpec } from './obis.js';

export interface RegisterInputs {
  reading: MetrologyReading;
  sagCount: number;
  swellCount: number;
  relay: RelayState;
  meterId: string;
}

function rawValues(inputs: RegisterInputs): Record<RegisterName, number | string> {
  const { measurements: m } = inputs.reading;
  return {
    energyImport: inputs.reading.energyImportKwh,
    energyExport: inputs.reading.energyExportKwh,
    powerImport: m.importKw,
    powerExport: m.exportKw,
    voltageL1: m.voltagesV[0],
    voltageL2: m.voltagesV[1],
    voltageL3: m.voltagesV[2],
    currentL1: m.currentsA[0],
    currentL2: m.currentsA[1],
    currentL3: m.currentsA[2],
    frequency: m.frequencyHz,
    powerFactor: m.powerFactor,
    voltageThd: m.thdPercent,
    sagCount: inputs.sagCount,
    swellCount: inputs.swellCount,
    // PROTOCOL §6 relay state: '1' closed; '0' open or locked out.
    relayState: inputs.relay === 'closed' ? 1 : 0,
    meterId: inputs.meterId,
  };
}

const NAME_BY_ID = new Map(
  (Object.entries(OBIS) as [RegisterName, string][]).map(([name, id]) => [id, name]),
);

/**
 * The requested registers in the order asked (duplicates once, unknown ids skipped), or the
 * whole table in its own order when `ids` is undefined or empty.
 */
export function renderRegisters(inputs: RegisterInputs, ids?: readonly string[]): RegisterValue[] {
  const raw = rawValues(inputs);
  return renderRegisterValues((id) => {
    const name = NAME_BY_ID.get(id);
    return name === undefined ? undefined : raw[name];
  }, ids);
}

/**
 * PROTOCOL §6 rendering for every driver: the ids asked for in their order (duplicates once),
 * or the whole table when `ids` is undefined or empty; an id we do not define, or one
 * `valueFor` has no value for, is skipped. Numbers get the table's fixed precision.
 */
export function renderRegisterValues(
  valueFor: (id: string) => number | string | undefined,
  ids?: readonly string[],
): RegisterValue[] {
  const wanted =
    ids === undefined || ids.length === 0 ? REGISTER_TABLE.map((s) => s.id) : [...new Set(ids)];
  const out: RegisterValue[] = [];
  for (const id of wanted) {
    const spec = registerSpec(id);
    const value = valueFor(id);
    if (spec === undefined || value === undefined) continue;
    const text =
      typeof value === 'number' && spec.decimals !== null
        ? formatDecimal(value, spec.decimals)
        : String(value);
    out.push({ id, value: text, unit: spec.unit });
  }
  return out;
}
