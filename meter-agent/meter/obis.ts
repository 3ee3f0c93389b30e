// The register table: OBIS ids (IEC 62056-61, "Object identification system"), the SI unit and
// the fixed precision of each decimal string. PROTOCOL §6 lists the minimum set; every driver
// reports at least these, and the agent labels fields from `label` (PROTOCOL §4).

export interface RegisterSpec {
  readonly id: string;
  readonly unit: string;
  /** Digits after the decimal point; null for a text register (the meter id). */
  readonly decimals: number | null;
  readonly label: string;
}

/** Names for the ids, so code says what it reads instead of repeating OBIS strings. */
export const OBIS = {
  energyImport: '1-0:1.8.0',
  energyExport: '1-0:2.8.0',
  powerImport: '1-0:1.7.0',
  powerExport: '1-0:2.7.0',
  voltageL1: '1-0:32.7.0',
  voltageL2: '1-0:52.7.0',
  voltageL3: '1-0:72.7.0',
  currentL1: '1-0:31.7.0',
  currentL2: '1-0:51.7.0',
  currentL3: '1-0:71.7.0',
  frequency: '1-0:14.7.0',
  powerFactor: '1-0:13.7.0',
  voltageThd: '1-0:32.7.124',
  sagCount: '1-0:32.32.0',
  swellCount: '1-0:32.36.0',
  relayState: '0-0:96.3.10',
  meterId: '0-0:96.1.1',
} as const;

export type RegisterName = keyof typeof OBIS;

// PROTOCOL §6 minimum register set, in the order a full read returns it.
export const REGISTER_TABLE: readonly RegisterSpec[] = [
  { id: OBIS.energyImport, unit: 'kWh', decimals: 3, label: 'Active energy import' },
  { id: OBIS.energyExport, unit: 'kWh', decimals: 3, label: 'Active energy export' },
  { id: OBIS.powerImport, unit: 'kW', decimals: 3, label: 'Active power import' },
  { id: OBIS.powerExport, unit: 'kW', decimals: 3, label: 'Active power export' },
  { id: OBIS.voltageL1, unit: 'V', decimals: 1, label: 'Voltage L1' },
  { id: OBIS.voltageL2, unit: 'V', decimals: 1, label: 'Voltage L2' },
  { id: OBIS.voltageL3, unit: 'V', decimals: 1, label: 'Voltage L3' },
  { id: OBIS.currentL1, unit: 'A', decimals: 2, label: 'Current L1' },
  { id: OBIS.currentL2, unit: 'A', decimals: 2, label: 'Current L2' },
  { id: OBIS.currentL3, unit: 'A', decimals: 2, label: 'Current L3' },
  { id: OBIS.frequency, unit: 'Hz', decimals: 3, label: 'Frequency' },
  { id: OBIS.powerFactor, unit: '', decimals: 3, label: 'Power factor' },
  { id: OBIS.voltageThd, unit: '%', decimals: 2, label: 'Voltage THD L1' },
  { id: OBIS.sagCount, unit: '', decimals: 0, label: 'Voltage sag count' },
  { id: OBIS.swellCount, unit: '', decimals: 0, label: 'Voltage swell count' },
  { id: OBIS.relayState, unit: '', decimals: 0, label: 'Relay state (1 closed, 0 open)' },
  { id: OBIS.meterId, unit: '', decimals: null, label: 'Meter id' },
];

export const MINIMUM_REGISTER_IDS: readonly string[] = REGISTER_TABLE.map((spec) => spec.id);

const SPEC_BY_ID = new Map(REGISTER_TABLE.map((spec) => [spec.id, spec]));

export function registerSpec(id: string): RegisterSpec | undefined {
  return SPEC_BY_ID.get(id);
}

/** A number as the register's fixed-precision decimal string; never '-0.0'. */
export function formatDecimal(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}
