import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPresenceTracker } from '../../meter-agent/presence/presence-tracker.js';
import { decodeSlot, encodeSlot, openSeqStore } from '../../meter-agent/presence/seq-store.js';

const fixedNow = () => new Date('2026-11-27T14:00:00.456Z');

describe('presence tracker and seq store (PROTOCOL §1 seq)', () => {
  it('starts at 1, counts only real changes, and survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    const store = openSeqStore(dir);
    const first = createPresenceTracker({
      seqStore: store,
      kind: 'revenue-meter',
      now: fixedNow,
      initial: { state: 'available' },
    });
    expect(first.status).toEqual({
      state: 'available',
      seq: 1,
      since: '2026-11-27T14:00:00Z',
      kind: 'revenue-meter',
    });
    expect(first.apply('available')).toBeNull();
    expect(first.apply('restricted', { code: 'relay-open', text: 'open' })?.seq).toBe(2);
    expect(first.apply('restricted', { code: 'relay-open', text: 'open' })).toBeNull();
    expect(first.apply('restricted', { code: 'tamper-suspected' })?.seq).toBe(3);
    await store.durable(3);
    // Two slots, written in turn: one holds the last durable seq, the other an earlier one (a
    // burst shares a write, so not every seq is ever on disk).
    const slotsOnDisk = () => {
      const bytes = readFileSync(join(dir, 'presence-seq'));
      return [decodeSlot(bytes.subarray(0, 32)), decodeSlot(bytes.subarray(32))] as number[];
    };
    expect(Math.max(...slotsOnDisk())).toBe(3);
    expect(Math.min(...slotsOnDisk())).toBeLessThan(3);
    first.apply('available');
    first.apply('restricted', { code: 'relay-open' });
    await store.durable(5);
    // The slot that held 3 was not written until a later seq was whole in the other one.
    expect(Math.max(...slotsOnDisk())).toBe(5);
    expect(Math.min(...slotsOnDisk())).toBeGreaterThanOrEqual(3);
    await store.close();

    const afterRestart = createPresenceTracker({
      seqStore: openSeqStore(dir),
      kind: 'revenue-meter',
      now: fixedNow,
      initial: { state: 'available' },
    });
    expect(afterRestart.status.seq).toBe(6);
    // a new session: the same state begins again
    expect(afterRestart.renew()).toMatchObject({ state: 'available', seq: 7 });
  });

  it('refuses a corrupt seq file instead of silently restarting at 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    writeFileSync(join(dir, 'presence-seq.json'), '{"seq":"many"}');
    expect(() => openSeqStore(dir)).toThrow(/no valid seq/);
    const other = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    writeFileSync(join(other, 'presence-seq'), 'x'.repeat(64));
    expect(() => openSeqStore(other)).toThrow(/presence-seq holds no valid seq/);
  });

  it('writes a burst of changes in a few writes, each seq on disk before durable() resolves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    const store = openSeqStore(dir);
    const onDisk = () => {
      const slots = readFileSync(join(dir, 'presence-seq'));
      return Math.max(
        ...[slots.subarray(0, 32), slots.subarray(32)].map((s) => decodeSlot(s) ?? 0),
      );
    };
    const seen: number[] = [];
    const seqs = Array.from({ length: 100 }, () => store.next());
    expect(seqs[99]).toBe(100);
    await Promise.all(
      seqs.map((seq) =>
        store.durable(seq).then(() => {
          // Resolved only once this seq, or a later one, is on disk.
          expect(onDisk()).toBeGreaterThanOrEqual(seq);
          seen.push(seq);
        }),
      ),
    );
    expect(seen).toEqual(seqs);
    expect(onDisk()).toBe(100);
    // A seq already on disk resolves at once; a restart goes on after the last one.
    await store.durable(7);
    await store.close();
    expect(openSeqStore(dir).next()).toBe(101);
  });

  it('rejects durable() when the write fails, and writes again for a later seq', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    const store = openSeqStore(dir);
    // The file replaced by a directory: every write fails (also as root).
    rmSync(join(dir, 'presence-seq'));
    mkdirSync(join(dir, 'presence-seq'));
    const failed = store.next();
    await expect(store.durable(failed)).rejects.toThrow(/could not write the presence seq/);
    await store.close();
  });

  it("takes the whole slot after a torn write, and the seq of an older version's file", () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    // Slot 1 torn in the middle of writing seq 43: slot 0 still holds 42.
    const torn = Buffer.concat([encodeSlot(42), encodeSlot(43)]);
    torn.write('seq 4', 32, 'latin1');
    torn.fill(0, 37, 50);
    writeFileSync(join(dir, 'presence-seq'), torn);
    expect(openSeqStore(dir).current).toBe(42);
    expect(decodeSlot(encodeSlot(9_007_199_254_740_991))).toBe(9_007_199_254_740_991);

    const legacy = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    writeFileSync(join(legacy, 'presence-seq.json'), '{"seq":17}');
    expect(openSeqStore(legacy).next()).toBe(18);
    expect(readFileSync(join(legacy, 'presence-seq')).length).toBe(64);
  });

  it('writes the slot that does not hold the last durable seq, whatever the parity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    // Slot 0 holds 3 (the last that may have been sent), slot 1 an older 2.
    writeFileSync(join(dir, 'presence-seq'), Buffer.concat([encodeSlot(3), encodeSlot(2)]));
    const store = openSeqStore(dir);
    expect(store.current).toBe(3);
    await store.durable(store.next());
    const bytes = readFileSync(join(dir, 'presence-seq'));
    // 4 went to slot 1: a power cut while writing it would have left 3 whole in slot 0.
    expect([decodeSlot(bytes.subarray(0, 32)), decodeSlot(bytes.subarray(32))]).toEqual([3, 4]);
    await store.close();
  });
});
