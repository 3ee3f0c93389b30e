// A SunSpec meter sample as our registers (PROTOCOL §6, obis.ts). Only ids we define; a value
// the meter does not implement (or a phase it does not have) is left out, not invented.
//
//   OBIS          register               SunSpec point (models 201-204)
//   1-0:1.8.0     energy import, kWh     TotWhImp × 10^TotWh_SF / 1000
//   1-0:2.8.0     energy export, kWh     TotWhExp × 10^TotWh_SF / 1000
//   1-0:1.7.0     power import, kW       W × 10^W_SF / 1000 when W ≥ 0, else 0
//   1-0:2.7.0     power export, kW       −W × 10^W_SF / 1000 when W < 0, else 0
//   1-0:32.7.0    voltage L1, V          PhVphA × 10^V_SF (204, no neutral: PhVphAB)
//   1-0:52.7.0    voltage L2, V          PhVphB × 10^V_SF (204: PhVphBC)
//   1-0:72.7.0    voltage L3, V          PhVphC × 10^V_SF (204: PhVphCA)
//   1-0:31.7.0    current L1, A          AphA × 10^A_SF
//   1-0:51.7.0    current L2, A          AphB × 10^A_SF
//   1-0:71.7.0    current L3, A          AphC × 10^A_SF
//   1-0:14.7.0    frequency, Hz          Hz × 10^Hz_SF
//   1-0:13.7.0    power factor           PF × 10^PF_SF / 100 (SunSpec gives percent)
//   1-0:32.32.0   sag count              rising edges of M_EVENT_Under_Voltage seen by the agent
//   1-0:32.36.0   swell count            rising edges of M_EVENT_Over_Voltage seen by the agent
//   0-0:96.1.1    meter id               the agent's meterId (as the simulated driver)
//
// Not mapped: VA and VAR (totals and per phase: we define no OBIS id for them yet), per-phase
// W and PF, the energy per phase, VAh and VArh; voltage THD (1-0:32.7.124) and relay state
// (0-0:96.3.10) have no SunSpec meter point.

import type { RegisterValue } from '../model.js';
import { OBIS } from '../obis.js';
import { renderRegisterValues } from '../registers.js';
import type { SunSpecMeterSample } from './sunspec-meter-model.js';

export interface SunSpecRegisterInputs {
  /** The last good poll; null before the first one. */
  sample: SunSpecMeterSample | null;
  sagCount: number;
  swellCount: number;
  meterId: string;
}

const DELTA_MODEL_ID = 204;

function valuesOf(inputs: SunSpecRegisterInputs): Map<string, number | string> {
  const values = new Map<string, number | string>();
  const put = (id: string, value: number | null) => {
    if (value !== null && Number.isFinite(value)) values.set(id, value);
  };
  const { sample } = inputs;
  if (sample !== null) {
    const kilo = (v: number | null) => (v === null ? null : v / 1000);
    put(OBIS.energyImport, kilo(sample.energyImportWh));
    put(OBIS.energyExport, kilo(sample.energyExportWh));
    const w = sample.powerW;
    put(OBIS.powerImport, w === null ? null : Math.max(w, 0) / 1000);
    put(OBIS.powerExport, w === null ? null : Math.max(-w, 0) / 1000);
    const voltage = (i: 0 | 1 | 2) =>
      sample.phaseVoltagesV[i] ??
      (sample.modelId === DELTA_MODEL_ID ? sample.lineVoltagesV[i] : null);
    put(OBIS.voltageL1, voltage(0));
    put(OBIS.voltageL2, voltage(1));
    put(OBIS.voltageL3, voltage(2));
    put(OBIS.currentL1, sample.phaseCurrentsA[0]);
    put(OBIS.currentL2, sample.phaseCurrentsA[1]);
    put(OBIS.currentL3, sample.phaseCurrentsA[2]);
    put(OBIS.frequency, sample.frequencyHz);
    put(OBIS.powerFactor, sample.powerFactor);
  }
  values.set(OBIS.sagCount, inputs.sagCount);
  values.set(OBIS.swellCount, inputs.swellCount);
  values.set(OBIS.meterId, inputs.meterId);
  return values;
}

/**
 * The requested registers in the order asked (duplicates once, unknown or unavailable ids
 * skipped), or every available one in the table's order when `ids` is undefined or empty.
 */
export function renderSunSpecRegisters(
  inputs: SunSpecRegisterInputs,
  ids?: readonly string[],
): RegisterValue[] {
  const values = valuesOf(inputs);
  return renderRegisterValues((id) => values.get(id), ids);
}
