import { readFileSync } from 'node:fs';

// CPU time of another process from /proc (Linux), for measurements that report what a run cost
// Prosody and the service beside the figures themselves.

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux we run on. */
const CLOCK_TICKS_PER_S = 100;

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_S;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Measures CPU use over a window: call stop() at its end. */
export function cpuMeter(pid: number): {
  stop(): { cpuS: number; wallS: number; percent: number };
} {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  return {
    stop() {
      const cpuS = cpuSeconds(pid) - cpu0;
      const wallS = (performance.now() - t0) / 1000;
      return { cpuS, wallS, percent: (100 * cpuS) / wallS };
    },
  };
}
