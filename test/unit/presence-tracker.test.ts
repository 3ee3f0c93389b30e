import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPresenceTracker } from '../../meter-agent/presence/presence-tracker.js';
import { openSeqStore } from '../../meter-agent/presence/seq-store.js';

const fixedNow = () => new Date('2026-11-27T14:00:00.456Z');

describe('presence tracker and seq store (PROTOCOL §1 seq)', () => {
  it('starts at 1, counts only real changes, and survives a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-seq-'));
    const first = createPresenceTracker({
      seqStore: openSeqStore(dir),
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
});
