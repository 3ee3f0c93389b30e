import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// One row of the result table: a figure, the floor it is measured against in the same run, the
// ratio between them and the target of issue 6. Targets are reported, never asserted.

export interface Figure {
  scenario: string;
  measure: string;
  value: number;
  unit: string;
  /** What bounds the figure from below (or above), measured in the same run. */
  floor?: { value: number; unit: string; what: string };
  /** value ÷ floor unless `ratioNote` says otherwise. */
  ratio?: number;
  ratioNote?: string;
  target?: { text: string; met: boolean };
}

export interface ScenarioResult {
  name: string;
  figures: Figure[];
  /** Everything else the scenario measured, for the JSON. */
  details: Record<string, unknown>;
  /** Settings that shape the figures (e.g. heartbeats off), printed under the table. */
  notes: string[];
}

export interface ScenarioFailure {
  name: string;
  error: string;
}

const fmt = (value: number, unit: string): string => {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return `${value} ${unit}`.trim();
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`.trim();
};

export function renderTable(results: ScenarioResult[], failures: ScenarioFailure[]): string {
  const header = ['scenario', 'measure', 'value', 'floor (same run)', 'ratio', 'target', 'met?'];
  const rows: string[][] = [];
  for (const result of results) {
    for (const f of result.figures) {
      rows.push([
        f.scenario,
        f.measure,
        fmt(f.value, f.unit),
        f.floor ? `${fmt(f.floor.value, f.floor.unit)} (${f.floor.what})` : '—',
        f.ratio === undefined ? '—' : `${f.ratio.toFixed(2)}×`,
        f.target?.text ?? '—',
        f.target ? (f.target.met ? 'yes' : 'NO') : '—',
      ]);
    }
  }
  // The whole error is in the JSON; under the table its first line, short.
  const failed = failures.map((failure) => {
    const first = failure.error.split('\n')[0] ?? '';
    return `  ${failure.name}: ${first.length > 300 ? `${first.slice(0, 299)}…` : first}`;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const notes = results.flatMap((r) => r.notes.map((n) => `  ${r.name}: ${n}`));
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...(failed.length > 0 ? ['', 'FAILED:', ...failed] : []),
    ...(notes.length > 0 ? ['', 'notes:', ...notes] : []),
    '',
  ].join('\n');
}

export function writeResult(outDir: string, date: Date, result: unknown): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `bench-${date.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
