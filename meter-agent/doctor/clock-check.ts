import { type Check, fail, ok } from './check.js';

// Check 2: the system clock is plausible. A meter that lost its RTC battery boots in 1970 or
// 2000; then every certificate looks "not yet valid" and every reading carries a wrong time.
// Without a trusted time source the best test is a floor and a ceiling; the tls check then
// compares the clock with the server certificate's validity (tls-check.ts).

/** This release was built in this year: a clock before it is certainly wrong. Bump on release. */
export const RELEASE_YEAR = 2026;
/** Further ahead than this is no longer a slow clock but a wrong one. */
export const MAX_YEARS_AHEAD = 20;

export interface ClockVerdict {
  ok: boolean;
  detail: string;
}

export function judgeClock(now: Date): ClockVerdict {
  if (Number.isNaN(now.getTime())) return { ok: false, detail: 'the system clock gives no time' };
  const iso = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const year = now.getUTCFullYear();
  if (year < RELEASE_YEAR) {
    return {
      ok: false,
      detail: `the system clock says ${iso}, before ${RELEASE_YEAR}, the year this meter-agent was built: the clock is wrong`,
    };
  }
  if (year > RELEASE_YEAR + MAX_YEARS_AHEAD) {
    return {
      ok: false,
      detail: `the system clock says ${iso}, more than ${MAX_YEARS_AHEAD} years after this meter-agent was built (${RELEASE_YEAR}): the clock is wrong`,
    };
  }
  return { ok: true, detail: `${iso} (UTC); not before ${RELEASE_YEAR}, the release year` };
}

export const clockCheck: Check = {
  name: 'clock',
  needs: [],
  async run(ctx) {
    const verdict = judgeClock(ctx.now());
    if (verdict.ok) return ok(verdict.detail);
    ctx.clockSuspect = verdict.detail;
    return fail(
      verdict.detail,
      'set the system time (NTP: `timedatectl set-ntp true`, or `date -s`); with a wrong clock ' +
        'TLS certificates look expired or not yet valid and readings carry wrong times',
    );
  },
};
