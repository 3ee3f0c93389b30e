import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/log.js';
import { replaceFileSync } from './durable-file.js';

// The reading period (PROTOCOL §4 `reporting`, §6): a timer that takes a reading every intervalS
// seconds, and the interval itself, which an operator may change at run time and which survives
// restarts. The config's `telemetry.intervalS` is the starting value; an operator's setting wins
// over it until the config itself is changed again (the newer intent wins).

/** PROTOCOL §4 reporting: the range an operator may set. */
export const REPORTING_INTERVAL_S = { min: 5, max: 86_400 } as const;

export interface ReportingControl {
  readonly intervalS: number;
  /** PROTOCOL §4 reporting: 5–86400 s; takes effect at once and survives restarts. */
  setIntervalS(seconds: number): void;
}

export interface ReportingSchedule extends ReportingControl {
  start(): void;
  stop(): void;
}

interface PersistedInterval {
  intervalS: number;
  /** The config's value when the operator set intervalS: a different one now means it changed. */
  configuredS: number;
}

const FILE_NAME = 'reporting.json';

export function createReportingSchedule(deps: {
  dataDir: string;
  /** The config's value (tests may go below the operator's minimum of 5 s). */
  configuredS: number;
  onTick: () => void;
  logger: Logger;
}): ReportingSchedule {
  const { dataDir, configuredS, onTick, logger } = deps;
  const file = join(dataDir, FILE_NAME);
  let intervalS = readPersisted(file, configuredS, logger) ?? configuredS;
  let timer: NodeJS.Timeout | undefined;
  let nextAtMs = 0;
  let running = false;

  // Each reading is due one interval after the previous one was due, not after it ran, so the
  // period does not drift by the time a reading takes.
  const arm = () => {
    const delayMs = Math.max(0, nextAtMs - Date.now());
    timer = setTimeout(() => {
      nextAtMs += intervalS * 1000;
      // After a long stall (a suspended VM) skip the missed ticks rather than burst them out.
      if (nextAtMs < Date.now()) nextAtMs = Date.now() + intervalS * 1000;
      arm();
      try {
        onTick();
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'taking a reading failed');
      }
    }, delayMs);
  };

  return {
    get intervalS() {
      return intervalS;
    },
    setIntervalS(seconds) {
      const { min, max } = REPORTING_INTERVAL_S;
      if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
        throw new RangeError(`the reporting interval must be a whole number of ${min}-${max} s`);
      }
      replaceFileSync(
        file,
        `${JSON.stringify({ intervalS: seconds, configuredS } satisfies PersistedInterval)}\n`,
      );
      intervalS = seconds;
      logger.info({ intervalS }, 'reporting interval set');
      if (running) {
        clearTimeout(timer);
        nextAtMs = Date.now() + intervalS * 1000;
        arm();
      }
    },
    start() {
      if (running) return;
      running = true;
      nextAtMs = Date.now() + intervalS * 1000;
      arm();
    },
    stop() {
      running = false;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

function readPersisted(file: string, configuredS: number, logger: Logger): number | undefined {
  let persisted: Partial<PersistedInterval>;
  try {
    persisted = JSON.parse(readFileSync(file, 'utf8')) as Partial<PersistedInterval>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger.warn({ file, err: (error as Error).message }, 'ignoring an unreadable reporting file');
    }
    return undefined;
  }
  const { intervalS, configuredS: then } = persisted;
  const valid =
    Number.isInteger(intervalS) &&
    (intervalS as number) >= REPORTING_INTERVAL_S.min &&
    (intervalS as number) <= REPORTING_INTERVAL_S.max;
  if (!valid || then !== configuredS) return undefined;
  return intervalS;
}
