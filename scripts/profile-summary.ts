import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { reportCliError } from '../src/cli/report-error.js';
import { type CpuProfile, type ProfileSummary, summarizeProfile } from './bench/cpu-profile.js';

// `npm run profile:summary -- FILE.cpuprofile…`: where a process's CPU time went, from the
// profiles `npm run bench -- --cpu-prof DIR` writes (V8's .cpuprofile JSON). Self time per
// function and per owner (our code, each npm package, Node's internals, GC, idle), so that
// BENCHMARKS.md can say what bounds a figure without a browser's DevTools.

const HELP = `Usage: npm run profile:summary -- [--top 25] FILE.cpuprofile [FILE…]

For each V8 CPU profile (node --cpu-prof), prints the profiled seconds, the share of time
that was idle, garbage collection or running, the running time by owner (our code, each npm
package, node: internals) and the functions with the most self time.
`;

function render(file: string, summary: ProfileSummary, top: number): string {
  const total = summary.byOwner.reduce((sum, [, ms]) => sum + ms, 0);
  const idle = summary.byOwner.find(([owner]) => owner === '(idle)')?.[1] ?? 0;
  const busy = total - idle;
  const pct = (ms: number, of: number) => `${((100 * ms) / (of || 1)).toFixed(1).padStart(5)} %`;
  const lines = [
    `${file}: ${summary.seconds.toFixed(1)} s profiled, busy ${pct(busy, total)} of it`,
    '  busy time by owner:',
    ...summary.byOwner
      .filter(([owner]) => owner !== '(idle)')
      .slice(0, top)
      .map(
        ([owner, ms]) => `    ${pct(ms, busy)}  ${(ms / 1000).toFixed(2).padStart(7)} s  ${owner}`,
      ),
    '  functions by self time:',
    ...summary.byFunction
      .filter(([name]) => !name.startsWith('(idle)'))
      .slice(0, top)
      .map(
        ([name, ms]) => `    ${pct(ms, busy)}  ${(ms / 1000).toFixed(2).padStart(7)} s  ${name}`,
      ),
  ];
  return `${lines.join('\n')}\n`;
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1) throw new Error(`--top must be a positive integer`);
  if (positionals.length === 0) throw new Error('name at least one .cpuprofile file (--help)');
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    process.stdout.write(render(file, summarizeProfile(profile), top));
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.exitCode = reportCliError('profile-summary', error);
}
