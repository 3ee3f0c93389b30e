// Names of the PROTOCOL §6 minimum register set, for people. The same table as the agent's
// meter-agent/meter/obis.ts (the browser build cannot import it); an id not listed is shown as is.

export const REGISTER_LABELS: Readonly<Record<string, string>> = {
  '1-0:1.8.0': 'Active energy import',
  '1-0:2.8.0': 'Active energy export',
  '1-0:1.7.0': 'Active power import',
  '1-0:2.7.0': 'Active power export',
  '1-0:32.7.0': 'Voltage L1',
  '1-0:52.7.0': 'Voltage L2',
  '1-0:72.7.0': 'Voltage L3',
  '1-0:31.7.0': 'Current L1',
  '1-0:51.7.0': 'Current L2',
  '1-0:71.7.0': 'Current L3',
  '1-0:14.7.0': 'Frequency',
  '1-0:13.7.0': 'Power factor',
  '1-0:32.7.124': 'Voltage THD L1',
  '1-0:32.32.0': 'Voltage sag count',
  '1-0:32.36.0': 'Voltage swell count',
  '0-0:96.3.10': 'Relay state (1 closed, 0 open)',
  '0-0:96.1.1': 'Meter id',
};
