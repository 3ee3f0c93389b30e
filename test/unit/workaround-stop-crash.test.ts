import { describe, expect, it } from 'vitest';
import {
  connectionPrototypes,
  installStopCrashGuard,
} from '../../src/xmpp/workarounds/stop-crash-guard.js';

describe('workaround: data arriving after stop()', () => {
  it('crashes @xmpp/connection without the guard and is dropped with it', async () => {
    const prototypes = await connectionPrototypes();
    // the client's and the component's copies of @xmpp/connection
    expect(prototypes).toHaveLength(2);
    const stopped = { parser: null };
    for (const proto of prototypes) {
      expect(() => proto._onData.call(stopped, Buffer.from('<presence/>'))).toThrow(TypeError);
    }
    await installStopCrashGuard();
    for (const proto of prototypes) {
      expect(() => proto._onData.call(stopped, Buffer.from('<presence/>'))).not.toThrow();
    }
  });
});
