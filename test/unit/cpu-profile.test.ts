import { describe, expect, it } from 'vitest';
import { ownerOf, summarizeProfile } from '../../scripts/bench/cpu-profile.js';

describe('CPU profile summary', () => {
  it('names the owner of a frame', () => {
    const frame = (url: string, functionName = 'f') => ({ url, functionName, lineNumber: 0 });
    expect(ownerOf(frame('file:///w/node_modules/@xmpp/xml/lib/Parser.js'))).toBe('@xmpp/xml');
    expect(ownerOf(frame('file:///w/node_modules/ltx/lib/parsers/ltx.js'))).toBe('ltx');
    expect(ownerOf(frame('node:internal/streams/readable'))).toBe('node:internals');
    expect(ownerOf(frame('file:///w/dist/presence-service/store/presence-store.js'))).toBe(
      'ours: presence-service/store',
    );
    expect(ownerOf(frame('', '(garbage collector)'))).toBe('(gc)');
    expect(ownerOf(frame('', '(idle)'))).toBe('(idle)');
  });

  it('adds each sample to its frame with the time until the next sample', () => {
    const node = (id: number, functionName: string, url: string) => ({
      id,
      callFrame: { functionName, url, lineNumber: 9 },
    });
    const summary = summarizeProfile({
      nodes: [node(1, '(idle)', ''), node(2, 'parse', 'file:///w/node_modules/ltx/a.js')],
      startTime: 0,
      endTime: 4_000_000,
      samples: [1, 2, 2, 1],
      timeDeltas: [0, 1000, 3000, 500],
    });
    expect(summary.seconds).toBe(4);
    expect(summary.byOwner).toEqual([
      ['ltx', 3.5],
      ['(idle)', 1],
    ]);
    expect(summary.byFunction[0]).toEqual(['parse a.js:10', 3.5]);
  });
});
