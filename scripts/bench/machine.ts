import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';

// The machine and the versions a run was made with, for the JSON: figures from different
// machines or versions are not comparable, and these machines are shared and noisy.

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  ramBytes: number;
  freeRamBytesAtStart: number;
  loadAverageAtStart: number[];
  kernel: string;
  os: string;
}

export interface Versions {
  node: string;
  prosody: string;
  prosodyAbout: Record<string, string>;
  gridpresence: string;
  gitCommit: string;
  gitDirty: boolean;
}

export function describeMachine(): MachineDescription {
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ramBytes: totalmem(),
    freeRamBytesAtStart: freemem(),
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    kernel: release(),
    os: osName(),
  };
}

export function collectVersions(): Versions {
  const about = run('prosodyctl', ['about']);
  const pick = (label: RegExp) => about.match(label)?.[1]?.trim() ?? 'unknown';
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  // Read-only git queries (no index refresh: --no-optional-locks): the commit the figures belong
  // to, and whether the tree had uncommitted changes.
  const status = run('git', [
    '--no-optional-locks',
    'status',
    '--porcelain',
    '--untracked-files=no',
  ]);
  return {
    node: process.version,
    prosody: pick(/^Prosody (\S+)/m),
    prosodyAbout: {
      lua: pick(/^Lua version:\s+(.+)$/m),
      backend: pick(/^Backend:\s+(.+)$/m),
      libcrypto: pick(/^libcrypto:\s+(.+)$/m),
      // dpkg-query's own field syntax, not a template placeholder.
      debianPackage: run('dpkg-query', ['-W', `-f=\${Version}`, 'prosody']) || 'unknown',
    },
    gridpresence: pkg.version,
    gitCommit: run('git', ['rev-parse', 'HEAD']) || 'unknown',
    gitDirty: status.length > 0,
  };
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(text)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}
