import { Cron } from 'croner';

// Cron expressions of polling schedules (docs/liveness.md): 5 fields (minute first) or 6
// (seconds first), croner's nicknames such as @hourly, always evaluated in UTC so a schedule
// means the same on every server and does not jump at daylight-saving changes.

const OPTIONS = { timezone: 'UTC', paused: true, mode: '5-or-6-parts' } as const;

/** A parsed schedule expression: when it fires next. */
export interface CronSchedule {
  /** The first firing strictly after `from`, or null if it never fires again. */
  nextAfter(from: number): number | null;
}

/** Throws on a bad expression; config validation (cronProblem) has refused those already. */
export function parseCron(expression: string): CronSchedule {
  const cron = new Cron(expression, OPTIONS);
  // A paused job never starts croner's own timer: we only ask it for dates.
  return {
    nextAfter(from) {
      return cron.nextRun(new Date(from))?.getTime() ?? null;
    },
  };
}

/**
 * Why `expression` is not a usable schedule, or null if it is. For the config schema, so a bad
 * cron stops the service at start with a message naming it (STYLE §6).
 */
export function cronProblem(expression: string): string | null {
  let schedule: CronSchedule;
  try {
    schedule = parseCron(expression);
  } catch (error) {
    // croner's messages start with its class name ("CronPattern: Invalid value for minute: 61").
    const message = (error as Error).message.replace(/^CronPattern:\s*/, '');
    return `not a cron expression (5 fields, or 6 with seconds first; UTC): ${message}`;
  }
  // "0 0 30 2 *" parses but never fires (there is no 30 February).
  if (schedule.nextAfter(Date.now()) === null) return 'this cron expression never fires';
  return null;
}
