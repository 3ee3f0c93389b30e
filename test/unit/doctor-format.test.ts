import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../meter-agent/doctor/check.js';
import { parseTimeoutMs } from '../../meter-agent/doctor/doctor.js';
import {
  exitCodeOf,
  formatJson,
  formatLine,
  formatSummary,
} from '../../meter-agent/doctor/format.js';
import { EXIT } from '../../src/errors.js';

// What a technician reads: one aligned line per check, a verdict, and the exit code.

const RESULTS: CheckResult[] = [
  { check: 'config', status: 'ok', detail: 'mtr-0001@grid.example' },
  {
    check: 'tls',
    status: 'warn',
    detail: 'certificate expires in 3 days',
    hint: 'renew it',
  },
  {
    check: 'login',
    status: 'fail',
    detail: 'the server refused the login',
    hint: 'not-authorized: check xmpp.password',
  },
  { check: 'subscription', status: 'skip', detail: 'not run: login failed' },
];

describe('formatLine', () => {
  it('prints status, check and detail in columns; a hint after a dash', () => {
    expect(RESULTS.map(formatLine)).toEqual([
      'OK   config        mtr-0001@grid.example',
      'WARN tls           certificate expires in 3 days — renew it',
      'FAIL login         the server refused the login — not-authorized: check xmpp.password',
      'SKIP subscription  not run: login failed',
    ]);
  });

  it('keeps one line per check even when a message has line breaks', () => {
    const line = formatLine({ check: 'tls', status: 'fail', detail: 'a\n  b', hint: 'c\nd' });
    expect(line).toBe('FAIL tls           a b — c d');
  });
});

describe('formatSummary', () => {
  it('gives the verdict and the counts', () => {
    expect(formatSummary(RESULTS)).toBe('doctor: FAILED (1 ok, 1 warning(s), 1 failed, 1 skipped)');
    expect(formatSummary(RESULTS.slice(0, 2))).toBe(
      'doctor: all checks passed (1 ok, 1 warning(s))',
    );
  });
});

describe('formatJson', () => {
  it('is an array of {check, status, detail, hint} with hint null when there is none', () => {
    const rows = JSON.parse(formatJson(RESULTS)) as unknown[];
    expect(rows[0]).toEqual({
      check: 'config',
      status: 'ok',
      detail: 'mtr-0001@grid.example',
      hint: null,
    });
    expect(rows[2]).toEqual({
      check: 'login',
      status: 'fail',
      detail: 'the server refused the login',
      hint: 'not-authorized: check xmpp.password',
    });
  });
});

describe('exitCodeOf', () => {
  it('is 0 with warnings, 1 with a failure, 2 when the config cannot be read', () => {
    expect(exitCodeOf(RESULTS.slice(0, 2), false)).toBe(EXIT.OK);
    expect(exitCodeOf(RESULTS, false)).toBe(EXIT.FAILURE);
    expect(exitCodeOf(RESULTS, true)).toBe(EXIT.CONFIG);
  });
});

describe('parseTimeoutMs', () => {
  it('defaults to 5 s and takes 100 to 600000 ms', () => {
    expect(parseTimeoutMs(undefined)).toBe(5_000);
    expect(parseTimeoutMs('1500')).toBe(1_500);
    for (const bad of ['soon', '-5', '50', '1e3', '700000', '']) {
      expect(parseTimeoutMs(bad), bad).toBeUndefined();
    }
  });
});
