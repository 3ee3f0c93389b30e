import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../meter-agent/security/audit-entry.js';
import { AUDIT_FILE, openAuditTrail } from '../../meter-agent/security/audit-trail.js';
import { silentLogger } from '../../src/log.js';

// PROTOCOL §2: the local audit trail — JSON lines, private, rotated at a size bound, appended
// across restarts, and never throwing into the command that records.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gp-audit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry = (n: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  ts: `2026-11-27T14:00:${String(n % 60).padStart(2, '0')}.000Z`,
  from: 'op@grid.example/gajim',
  via: 'adhoc',
  command: 'relay',
  args: { action: ['open'], confirm: ['true'] },
  outcome: 'ok',
  detail: `entry ${n}`,
  ...extra,
});

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEntry);

describe('audit trail', () => {
  it('appends one JSON object per line to <dataDir>/audit.log, mode 0600, across restarts', () => {
    const first = openAuditTrail({ dataDir: dir, logger: silentLogger() });
    first.record(entry(1));
    first.record(
      entry(2, { outcome: 'refused', condition: 'forbidden', from: 'mallory@evil.example/x' }),
    );
    first.close();
    const second = openAuditTrail({ dataDir: dir, logger: silentLogger() });
    second.record(entry(3));
    second.close();
    const file = join(dir, AUDIT_FILE);
    expect(lines(file).map((e) => e.detail)).toEqual(['entry 1', 'entry 2', 'entry 3']);
    expect(lines(file)[1]).toEqual(
      entry(2, { outcome: 'refused', condition: 'forbidden', from: 'mallory@evil.example/x' }),
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('makes an existing file private', () => {
    const file = join(dir, AUDIT_FILE);
    writeFileSync(file, '', { mode: 0o644 });
    chmodSync(file, 0o644);
    const trail = openAuditTrail({ dataDir: dir, logger: silentLogger() });
    trail.record(entry(1));
    trail.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('rotates at the size bound and keeps `keep` old files', () => {
    const trail = openAuditTrail({
      dataDir: dir,
      logger: silentLogger(),
      settings: { maxBytes: 1000, keep: 3 },
    });
    const lineBytes = Buffer.byteLength(`${JSON.stringify(entry(0))}\n`);
    const perFile = Math.floor(1000 / lineBytes);
    const total = perFile * 6 + 2;
    for (let n = 0; n < total; n += 1) trail.record(entry(n));
    trail.close();
    const file = join(dir, AUDIT_FILE);
    for (const suffix of ['', '.1', '.2', '.3']) {
      expect(statSync(`${file}${suffix}`).size).toBeLessThanOrEqual(1000);
    }
    expect(existsSync(`${file}.4`)).toBe(false);
    // newest in audit.log, then .1, .2, .3 without gaps
    const all = [
      ...lines(`${file}.3`),
      ...lines(`${file}.2`),
      ...lines(`${file}.1`),
      ...lines(file),
    ];
    const numbers = all.map((e) => Number(e.detail.split(' ')[1]));
    expect(numbers.at(-1)).toBe(total - 1);
    expect(numbers).toEqual(numbers.map((_, i) => (numbers[0] as number) + i));
    expect(lines(file)).toHaveLength(2);
    expect(statSync(`${file}.1`).mode & 0o777).toBe(0o600);
  });

  it('never throws into the caller: it warns and tries again', () => {
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => warnings.push(JSON.parse(line).msg) },
    );
    const gone = join(dir, 'not-yet');
    const trail = openAuditTrail({ dataDir: gone, logger });
    expect(() => trail.record(entry(1))).not.toThrow();
    expect(warnings).toContain('audit entry not written to the file');
    // the directory appears (e.g. a remounted disk): the next entry is written
    mkdirSync(gone);
    trail.record(entry(2));
    trail.close();
    expect(lines(join(gone, AUDIT_FILE)).map((e) => e.detail)).toEqual(['entry 2']);
  });
});
