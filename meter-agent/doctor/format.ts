import { EXIT } from '../../src/errors.js';
import { CHECK_NAMES, type CheckResult, type CheckStatus } from './check.js';

// How doctor's results are printed: one line per check for a person, or a JSON array for a
// script; and the exit code they add up to.

const LABEL: Record<CheckStatus, string> = { ok: 'OK', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };
const NAME_WIDTH = Math.max(...CHECK_NAMES.map((name) => name.length));

/** `OK   tls           detail` or `FAIL tls           what is wrong — what to do`. */
export function formatLine(result: CheckResult): string {
  const hint = result.hint && result.status !== 'ok' ? ` — ${result.hint}` : '';
  const text = `${result.detail}${hint}`.replace(/\s*\n\s*/g, ' ');
  return `${LABEL[result.status].padEnd(4)} ${result.check.padEnd(NAME_WIDTH)}  ${text}`;
}

/** The last line of the text output: the verdict and what it counts. */
export function formatSummary(results: readonly CheckResult[]): string {
  const count = (status: CheckStatus) => results.filter((r) => r.status === status).length;
  const failed = count('fail');
  const parts = [
    `${count('ok')} ok`,
    ...(count('warn') > 0 ? [`${count('warn')} warning(s)`] : []),
    ...(failed > 0 ? [`${failed} failed`] : []),
    ...(count('skip') > 0 ? [`${count('skip')} skipped`] : []),
  ];
  return `${failed > 0 ? 'doctor: FAILED' : 'doctor: all checks passed'} (${parts.join(', ')})`;
}

/** `--json`: an array of {check, status, detail, hint}; hint is null when there is none. */
export function formatJson(results: readonly CheckResult[]): string {
  const rows = results.map((r) => ({
    check: r.check,
    status: r.status,
    detail: r.detail,
    hint: r.hint ?? null,
  }));
  return `${JSON.stringify(rows, null, 2)}\n`;
}

/**
 * 0 when nothing failed (warnings allowed), 1 when a check failed, 2 when the config could not
 * be read at all (the same code as every other command that cannot read its config).
 */
export function exitCodeOf(results: readonly CheckResult[], configUnreadable: boolean): number {
  if (configUnreadable) return EXIT.CONFIG;
  return results.some((r) => r.status === 'fail' || r.status === 'skip') ? EXIT.FAILURE : EXIT.OK;
}
