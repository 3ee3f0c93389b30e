import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../scripts/bench/options.js';

// Issue 6: `npm run bench -- --quick` (the built script) completes, writes valid JSON with every
// scenario and numeric figures, and leaves nothing running. Its timing targets are not asserted
// here (issue 6 "Rules"): on a shared machine they are figures, not pass/fail.

const BENCH = resolve('dist/scripts/bench.js');
const outDir = mkdtempSync(join(tmpdir(), 'gp-bench-smoke-'));

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** Pids of processes whose command line names a bench run's temp dir. */
function benchProcesses(): Set<number> {
  const pids = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('gp-bench-')) {
        pids.add(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function runBench(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BENCH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

interface Figure {
  scenario: string;
  measure: string;
  value: number;
  floor?: { value: number };
  ratio?: number;
}

describe('npm run bench -- --quick', () => {
  it(
    'runs every scenario, writes a valid result file and stops everything it started',
    async () => {
      const before = benchProcesses();
      const { code, stdout, stderr } = await runBench(['--quick', '--out', outDir]);
      expect(code, `bench exited ${code}\n${stderr.slice(-4000)}`).toBe(0);
      expect(stdout).toMatch(/scenario\s+measure\s+value\s+floor/);

      const files = readdirSync(outDir).filter((f) => /^bench-.+\.json$/.test(f));
      expect(files).toHaveLength(1);
      const result = JSON.parse(readFileSync(join(outDir, files[0] as string), 'utf8')) as {
        machine: { cpuModel: string; cores: number; ramBytes: number; kernel: string };
        versions: { node: string; prosody: string; gridpresence: string; gitCommit: string };
        scenarios: Record<string, { figures: Figure[] }>;
        failures: unknown[];
      };
      expect(result.failures).toEqual([]);
      expect(result.machine.cores).toBeGreaterThan(0);
      expect(result.machine.ramBytes).toBeGreaterThan(0);
      expect(result.versions.node).toBe(process.version);
      expect(result.versions.prosody).toMatch(/^\d+\.\d+/);
      expect(Object.keys(result.scenarios).sort()).toEqual([...SCENARIOS].sort());
      for (const name of SCENARIOS) {
        const figures = result.scenarios[name]?.figures ?? [];
        expect(figures.length, name).toBeGreaterThan(0);
        for (const figure of figures) {
          const label = `${name}: ${figure.measure}`;
          expect(Number.isFinite(figure.value), label).toBe(true);
          if (figure.floor) expect(Number.isFinite(figure.floor.value), label).toBe(true);
          if (figure.ratio !== undefined) expect(Number.isFinite(figure.ratio), label).toBe(true);
        }
      }
      const leftovers = [...benchProcesses()].filter((pid) => !before.has(pid));
      expect(leftovers, 'processes of the bench run still running').toEqual([]);
    },
    6 * 60_000,
  );
});
