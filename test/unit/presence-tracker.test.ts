import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPresenceTracker } from '../../meter-agent/presence/presence-tracker.js';
import { openSeqStore } from '../../meter-agent/presence/seq-store.js';

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
    expect(JSON.parse(readFileSync(join(dir, 'presence-seq.json'), 'utf8'))).toEqual({ seq: 3 });

    const afterRestart = createPresenceTracker({
      seqStore: openSeqStore(dir),
      kind: 'revenue-meter',
      now: fixedNow,
      initial: { state: 'available' },
    });
    expect(afterRestart.status.seq).toBe(4);
    // a new session: the same state begins again
    expect(afterRestart.renew()).toMatchObject({ state: 'available', seq: 5 });
  });

  it('refuses a corrupt seq file instead of silently restarting at 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    writeFileSync(join(dir, 'presence-seq.json'), '{"seq":"many"}');
    expect(() => openSeqStore(dir)).toThrow(/no valid seq/);
  });

  it('writes a burst of changes in a few writes, each seq on disk before durable() resolves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    const store = openSeqStore(dir);
    const onDisk = () =>
      (JSON.parse(readFileSync(join(dir, 'presence-seq.json'), 'utf8')) as { seq: number }).seq;
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
    expect(openSeqStore(dir).next()).toBe(101);
  });

  it('rejects durable() when the write fails, and writes again for a later seq', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    const store = openSeqStore(dir);
    // A directory where the temporary file goes: every write fails (also as root).
    mkdirSync(join(dir, 'presence-seq.json.tmp'));
    const failed = store.next();
    await expect(store.durable(failed)).rejects.toThrow(/could not write the presence seq/);
    // Nothing on disk, so a restart could not have skipped past it.
    expect(openSeqStore(dir).current).toBe(0);
  });
});
