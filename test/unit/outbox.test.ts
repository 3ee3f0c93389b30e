import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DataDraft, type Outbox, openOutbox } from '../../meter-agent/telemetry/outbox.js';
import { silentLogger } from '../../src/log.js';
import type { DataItem } from '../../src/protocol/index.js';

const dirs: string[] = [];
const open: Outbox[] = [];

afterEach(async () => {
  for (const outbox of open.splice(0)) await outbox.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gp-outbox-'));
  dirs.push(dir);
  return dir;
}

function openAt(dir: string, maxBytes = 1024 * 1024): Outbox {
  const outbox = openOutbox({ dir, maxBytes, logger: silentLogger() });
  open.push(outbox);
  return outbox;
}

const fileOf = (dir: string) => readFileSync(join(dir, 'outbox.jsonl'), 'utf8');

let clock = Date.parse('2026-11-27T14:00:00Z');
const nextTs = () => {
  clock += 1000;
  return new Date(clock).toISOString();
};

const reading = (): DataDraft => ({
  kind: 'reading',
  ts: nextTs(),
  values: [
    { id: '1-0:1.8.0', value: '12345.678', unit: 'kWh' },
    { id: '1-0:32.7.0', value: '231.4', unit: 'V' },
  ],
});
const sag = (): DataDraft => ({ kind: 'event', ts: nextTs(), type: 'sag', phase: 'L1' });
const audit = (): DataDraft => ({
  kind: 'audit',
  ts: nextTs(),
  from: 'alice@grid.example/pc',
  via: 'chat',
  command: 'relay',
  args: { action: ['open'] },
  outcome: 'ok',
  detail: 'relay opened',
});

const kinds = (items: DataItem[]) => items.map((i) => `${i.kind}:${i.seq}`);

describe('the outbox (STYLE §9)', () => {
  it('gives each item the next data seq and has it on disk before put resolves', async () => {
    const dir = tempDir();
    const outbox = openAt(dir);
    const first = await outbox.put(reading());
    expect(first?.seq).toBe(1);
    expect(fileOf(dir)).toContain(`"seq":1`);
    const second = await outbox.put(sag());
    expect(second?.seq).toBe(2);
    expect(kinds(outbox.pending())).toEqual(['reading:1', 'event:2']);
    // a second process reading the same dir sees both (as after a crash)
    expect(kinds(openOutbox({ dir, maxBytes: 1e6, logger: silentLogger() }).pending())).toEqual([
      'reading:1',
      'event:2',
    ]);
  });

  it('forgets what the server acknowledged, also after a restart', async () => {
    const dir = tempDir();
    const outbox = openAt(dir);
    for (let i = 0; i < 3; i++) await outbox.put(reading());
    expect(outbox.remove(2)).toBe(true);
    expect(outbox.remove(2)).toBe(false);
    expect(outbox.remove(99)).toBe(false);
    await outbox.close();
    const again = openAt(dir);
    expect(kinds(again.pending())).toEqual(['reading:1', 'reading:3']);
    expect(again.stats.lastSeq).toBe(3);
  });

  it('keeps the seq across restarts even when everything was acknowledged and compacted', async () => {
    const dir = tempDir();
    const outbox = openAt(dir);
    for (let i = 1; i <= 200; i++) {
      const item = await outbox.put(reading());
      outbox.remove(item?.seq as number);
    }
    await outbox.close();
    // ~200 puts of ~180 bytes and their acks were rewritten away
    expect(statSync(join(dir, 'outbox.jsonl')).size).toBeLessThan(70 * 1024);
    const again = openAt(dir);
    expect(again.pending()).toEqual([]);
    expect((await again.put(sag()))?.seq).toBe(201);
  });

  it('commits puts made together in order, each resolved once on disk', async () => {
    const dir = tempDir();
    const outbox = openAt(dir);
    const drafts = Array.from({ length: 50 }, (_, i) => (i % 5 === 0 ? sag() : reading()));
    const items = await Promise.all(drafts.map((d) => outbox.put(d)));
    expect(items.map((i) => i?.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const seqsInFile = fileOf(dir)
      .split('\n')
      .filter((l) => l.startsWith('{"put"'))
      .map((l) => (JSON.parse(l) as { put: DataItem }).put.seq);
    expect(seqsInFile).toEqual(items.map((i) => i?.seq));
  });

  it('refuses an invalid item without spending a seq', async () => {
    const outbox = openAt(tempDir());
    await expect(outbox.put({ kind: 'event', ts: 'now', type: 'sag' })).rejects.toThrow(/@ts/);
    expect((await outbox.put(sag()))?.seq).toBe(1);
  });

  it('skips a torn last line (a crash mid-write) and rewrites the file', async () => {
    const dir = tempDir();
    const outbox = openAt(dir);
    await outbox.put(reading());
    await outbox.put(sag());
    await outbox.close();
    appendFileSync(join(dir, 'outbox.jsonl'), '{"put":{"kind":"reading","ts":"2026-11-2');
    const again = openAt(dir);
    expect(kinds(again.pending())).toEqual(['reading:1', 'event:2']);
    expect(fileOf(dir)).not.toContain('2026-11-2"');
    expect((await again.put(reading()))?.seq).toBe(3);
  });
});

describe('the size bound', () => {
  // Each reading line is ~190 bytes, an event ~90: room for about five readings.
  const BOUND = 1000;

  it('drops the oldest readings first, never events or audit, and counts them', async () => {
    const dir = tempDir();
    const outbox = openAt(dir, BOUND);
    await outbox.put(sag()); // 1
    for (let i = 0; i < 4; i++) await outbox.put(reading()); // 2..5
    await outbox.put(audit()); // 6
    expect(outbox.stats.droppedTotal).toBe(0);
    const before = kinds(outbox.pending());

    const next = await outbox.put(reading()); // 7: makes room by dropping reading 2 (and maybe 3)
    const after = kinds(outbox.pending());
    const droppedSeqs = before.filter((k) => !after.includes(k));
    expect(droppedSeqs.length).toBeGreaterThan(0);
    expect(droppedSeqs.every((k) => k.startsWith('reading:'))).toBe(true);
    expect(droppedSeqs[0]).toBe('reading:2');
    expect(after).toContain('event:1');
    expect(after).toContain('audit:6');
    expect(outbox.stats.bytes).toBeLessThanOrEqual(BOUND);
    // PROTOCOL §6 (our extension): the next reading reports how many were dropped
    expect(next).toMatchObject({ kind: 'reading', seq: 7, dropped: droppedSeqs.length });
    expect(outbox.stats).toMatchObject({ droppedTotal: droppedSeqs.length, pendingDropped: 0 });

    // the same after a restart
    await outbox.close();
    const again = openAt(dir, BOUND);
    expect(kinds(again.pending())).toEqual(after);
    expect(again.stats.droppedTotal).toBe(droppedSeqs.length);
  });

  it('reports a count again when the reading that carried it is dropped too', async () => {
    const outbox = openAt(tempDir(), BOUND);
    for (let i = 0; i < 30; i++) await outbox.put(reading());
    const items = outbox.pending();
    const reported = items.reduce(
      (sum, i) => sum + (i.kind === 'reading' ? (i.dropped ?? 0) : 0),
      0,
    );
    // every reading ever put is either still here or accounted for by a `dropped` count
    expect(items.length + reported + outbox.stats.pendingDropped).toBe(30);
    expect(outbox.stats.droppedTotal).toBe(30 - items.length);
  });

  it('keeps events and audit entries beyond the bound, and counts readings that found no room', async () => {
    const dir = tempDir();
    const outbox = openAt(dir, BOUND);
    for (let i = 0; i < 15; i++) await outbox.put(i % 2 ? sag() : audit());
    expect(outbox.stats.items).toBe(15); // nothing dropped
    expect(await outbox.put(reading())).toBeUndefined();
    expect(await outbox.put(reading())).toBeUndefined();
    expect(outbox.stats).toMatchObject({ pendingDropped: 2, droppedTotal: 2, lastSeq: 15 });
    await outbox.close();
    const again = openAt(dir, 100_000);
    expect(again.stats.pendingDropped).toBe(2);
    // once there is room, the next reading reports them
    expect(await again.put(reading())).toMatchObject({ seq: 16, dropped: 2 });
  });
});
