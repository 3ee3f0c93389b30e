import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/log.js';
import type { AgentModes } from './derive-state.js';

// The agent's own modes (maintenance, an activity in progress, a load limit), which presence is
// derived from along with the meter's condition. A load limit expires by itself at its end
// time, also across an agent restart (PROTOCOL §4 load-limit), so it is kept on disk.

export interface LoadLimit {
  limitKw: number;
  until: Date;
}

export interface ModeController {
  readonly modes: Readonly<AgentModes>;
  setMaintenance(note: string | null): void;
  setActivity(activity: { code: string; text: string } | null): void;
  setLoadLimit(limit: LoadLimit | null): void;
  stop(): void;
}

const LOAD_LIMIT_FILE = 'load-limit.json';

export function createModeController(deps: {
  dataDir: string;
  now: () => Date;
  logger: Logger;
  /** Called after any mode changed (re-derive presence). */
  onChange: () => void;
  /** Applies a load limit to the meter (null clears it). */
  applyLoadLimit: (limitKw: number | null) => void;
}): ModeController {
  const { dataDir, now, logger, onChange, applyLoadLimit } = deps;
  const modes: AgentModes = { maintenance: null, activity: null, loadLimit: null };
  let expiry: NodeJS.Timeout | undefined;

  const persist = (limit: LoadLimit | null) => {
    const file = join(dataDir, LOAD_LIMIT_FILE);
    if (!limit) {
      rmSync(file, { force: true });
      return;
    }
    writeFileSync(
      `${file}.tmp`,
      JSON.stringify({ limitKw: limit.limitKw, until: limit.until.toISOString() }),
      {
        mode: 0o600,
      },
    );
    renameSync(`${file}.tmp`, file);
  };

  const setLoadLimit = (limit: LoadLimit | null, notify = true) => {
    clearTimeout(expiry);
    expiry = undefined;
    if (limit && limit.until.getTime() <= now().getTime()) limit = null;
    modes.loadLimit = limit;
    persist(limit);
    applyLoadLimit(limit ? limit.limitKw : null);
    if (limit) {
      // setTimeout holds at most ~24.8 days; a limit lasts at most 1440 minutes.
      expiry = setTimeout(() => {
        logger.info({ limitKw: limit?.limitKw }, 'load limit expired');
        setLoadLimit(null);
      }, limit.until.getTime() - now().getTime());
      expiry.unref();
    }
    if (notify) onChange();
  };

  // A limit set before a restart still holds until its end time.
  const stored = readStoredLimit(join(dataDir, LOAD_LIMIT_FILE), logger);
  if (stored) setLoadLimit(stored, false);

  return {
    get modes() {
      return modes;
    },
    setMaintenance(note) {
      modes.maintenance = note === null ? null : { note };
      onChange();
    },
    setActivity(activity) {
      modes.activity = activity;
      onChange();
    },
    setLoadLimit: (limit) => setLoadLimit(limit),
    stop() {
      clearTimeout(expiry);
      expiry = undefined;
    },
  };
}

function readStoredLimit(file: string, logger: Logger): LoadLimit | null {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { limitKw?: unknown; until?: unknown };
    const until = new Date(String(raw.until));
    if (typeof raw.limitKw !== 'number' || raw.limitKw <= 0 || Number.isNaN(until.getTime())) {
      throw new Error('bad content');
    }
    return { limitKw: raw.limitKw, until };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger.warn(
        { file, err: (error as Error).message },
        'ignoring an unreadable stored load limit',
      );
    }
    return null;
  }
}
