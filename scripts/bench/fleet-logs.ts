import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { type BackoffOptions, minimumDelayMs } from '../../src/xmpp/backoff.js';

// What the fleet processes logged (pino JSON lines, one file per process): logins, failed
// attempts and the backoff each meter waited. A scenario notes the files' sizes before it starts
// and reads only what was written after.

export interface LogEntry {
  time: number;
  msg: string;
  level: number;
  meterId?: string;
  delayMs?: number;
  attempt?: number;
  /** A first retry spread over the RFC 6120 §3.3 window (src/xmpp/backoff.ts). */
  spread?: boolean;
  why?: string;
  err?: string;
}

export function logSizes(files: readonly string[]): number[] {
  return files.map(logSize);
}

/** The size of a log file in bytes (0 if there is none yet): where new lines will start. */
export function logSize(file: string): number {
  return statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

/** Entries written to `files` after `offsets` (from logSizes), in time order. */
export function readLogEntries(files: readonly string[], offsets: readonly number[]): LogEntry[] {
  const entries: LogEntry[] = [];
  files.forEach((file, i) => {
    for (const raw of readJsonLines(file, offsets[i] ?? 0)) {
      entries.push({
        time: Date.parse(String(raw.time)),
        msg: String(raw.msg ?? ''),
        level: Number(raw.level ?? 0),
        ...(typeof raw.meterId === 'string' && { meterId: raw.meterId }),
        ...(typeof raw.delayMs === 'number' && { delayMs: raw.delayMs }),
        ...(raw.spread === true && { spread: true }),
        ...(typeof raw.attempt === 'number' && { attempt: raw.attempt }),
        ...(typeof raw.why === 'string' && { why: raw.why }),
        // An error message without its variable parts (addresses, ids), to count by kind.
        ...(typeof raw.err === 'string' && {
          err: raw.err.replace(/[0-9A-F]{8,}:/g, '').slice(0, 120),
        }),
      });
    }
  });
  return entries.sort((a, b) => a.time - b.time);
}

/** The JSON lines of a log written after `offset` bytes (a line cut by a crash is skipped). */
export function readJsonLines(file: string, offset: number): Array<Record<string, unknown>> {
  return readFrom(file, offset)
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** The last `bytes` of a log file as text. */
export function readTail(file: string, bytes: number): string {
  return readFrom(file, Math.max(0, logSize(file) - bytes));
}

function readFrom(file: string, offset: number): string {
  const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= offset) return '';
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface LoginActivity {
  /** Sessions that came up ('online' lines). */
  online: number;
  /** Attempts that failed or timed out. */
  failedAttempts: number;
  /** Retries scheduled after a backoff. */
  retries: number;
  /** Meters that needed at least one retry. */
  metersRetried: number;
  /** The most sessions that came up within one second. */
  peakOnlinePerS: number;
  /** The most connection attempts started within one second (retries at their due time). */
  peakAttemptsPerS: number;
  /** Meters that stopped for good (fleet.ts 'meter stopped': e.g. a login refused as fatal). */
  metersStopped: number;
  /** Meters whose last connection event in the window was a session coming up. */
  metersOnlineAtEnd: number;
  /** Errors xmpp.js reported on a connection ('xmpp error'), by message. */
  xmppErrors: Record<string, number>;
  /** Errors thrown by a connection xmpp.js had let go of, absorbed by the fleet (fleet.ts). */
  absorbedErrors: Record<string, number>;
}

const MSG = {
  online: 'online',
  failed: 'connection attempt failed',
  timedOut: 'connection attempt timed out',
  retry: 'reconnecting after backoff',
  lost: 'connection lost',
  stopped: 'meter stopped',
  xmppError: 'xmpp error',
  absorbed: 'connection error after xmpp.js let go of the connection; that meter reconnects',
} as const;

export function loginActivity(entries: readonly LogEntry[]): LoginActivity {
  const onlinePerS = new Map<number, number>();
  const attemptsPerS = new Map<number, number>();
  const bump = (map: Map<number, number>, ms: number) => {
    const second = Math.floor(ms / 1000);
    map.set(second, (map.get(second) ?? 0) + 1);
  };
  const retried = new Set<string>();
  const up = new Map<string, boolean>();
  let online = 0;
  let failedAttempts = 0;
  let retries = 0;
  let metersStopped = 0;
  const xmppErrors: Record<string, number> = {};
  const absorbedErrors: Record<string, number> = {};
  const count = (into: Record<string, number>, key: string) => {
    into[key] = (into[key] ?? 0) + 1;
  };
  for (const e of entries) {
    if (e.meterId && (e.msg === MSG.online || e.msg === MSG.lost || e.msg === MSG.retry)) {
      up.set(e.meterId, e.msg === MSG.online);
    }
    if (e.msg === MSG.online) {
      online += 1;
      bump(onlinePerS, e.time);
    } else if (e.msg === MSG.failed || e.msg === MSG.timedOut) {
      failedAttempts += 1;
    } else if (e.msg === MSG.retry) {
      retries += 1;
      if (e.meterId) retried.add(e.meterId);
      bump(attemptsPerS, e.time + (e.delayMs ?? 0));
    } else if (e.msg === MSG.stopped) {
      metersStopped += 1;
    } else if (e.msg === MSG.xmppError) {
      count(xmppErrors, e.err ?? 'unknown');
    } else if (e.msg === MSG.absorbed) {
      count(absorbedErrors, e.err ?? 'unknown');
    } else if (e.msg === 'agent started') {
      // a first attempt starts with the agent
      bump(attemptsPerS, e.time);
    }
  }
  const peak = (map: Map<number, number>) => Math.max(0, ...map.values());
  return {
    online,
    failedAttempts,
    retries,
    metersRetried: retried.size,
    peakOnlinePerS: peak(onlinePerS),
    peakAttemptsPerS: peak(attemptsPerS),
    metersStopped,
    metersOnlineAtEnd: [...up.values()].filter(Boolean).length,
    xmppErrors,
    absorbedErrors,
  };
}

export interface BackoffViolation {
  meterId: string;
  attempt: number;
  /** What the meter said it would wait, and the least its backoff allows for this attempt. */
  delayMs: number;
  minimumMs: number;
  /** Time from this retry's announcement to the next one's (undefined for the last). */
  gapToNextMs?: number;
}

/**
 * Every retry a meter logged must wait at least what its backoff allows for that attempt
 * (src/xmpp/backoff.ts, "equal jitter": half the exponential step), and the next retry of the
 * same meter cannot be announced before this one's delay has passed (log times are to the ms).
 */
export function backoffViolations(
  entries: readonly LogEntry[],
  backoff: BackoffOptions,
): { checked: number; violations: BackoffViolation[] } {
  const byMeter = new Map<string, LogEntry[]>();
  for (const e of entries) {
    if (!e.meterId) continue;
    if (e.msg !== MSG.retry && e.msg !== MSG.online) continue;
    const list = byMeter.get(e.meterId) ?? [];
    list.push(e);
    byMeter.set(e.meterId, list);
  }
  const violations: BackoffViolation[] = [];
  let checked = 0;
  for (const [meterId, list] of byMeter) {
    list.forEach((e, i) => {
      if (e.msg !== MSG.retry || e.attempt === undefined || e.delayMs === undefined) return;
      checked += 1;
      const minimumMs = minimumDelayMs(backoff, e.attempt, e.spread === true);
      const next = list[i + 1];
      const gapToNextMs = next?.msg === MSG.retry ? next.time - e.time : undefined;
      // 1 ms of slack for the log's millisecond timestamps.
      const tooSoon = gapToNextMs !== undefined && gapToNextMs < e.delayMs - 1;
      if (e.delayMs < minimumMs || tooSoon) {
        violations.push({
          meterId,
          attempt: e.attempt,
          delayMs: e.delayMs,
          minimumMs,
          gapToNextMs,
        });
      }
    });
  }
  return { checked, violations };
}
