import { describe, expect, it } from 'vitest';
import { createPresenceAnnouncer } from '../../meter-agent/xmpp/presence-announcer.js';
import { silentLogger } from '../../src/log.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import { NS_METER } from '../../src/protocol/namespaces.js';
import { fakeXmpp } from './helpers/fake-xmpp.js';

// docs/liveness.md heartbeat: the current presence again, to the service only.

const status = (state: MeterStatus['state']): MeterStatus => ({
  state,
  seq: 7,
  since: '2026-11-27T12:00:00Z',
  kind: 'revenue-meter',
});

describe('presence heartbeat', () => {
  it('sends the current presence, unchanged, directed to the service only', async () => {
    const xmpp = fakeXmpp();
    const announcer = createPresenceAnnouncer({ xmpp: xmpp.client, logger: silentLogger() });
    announcer.setReady(true);
    await announcer.heartbeat(status('available'), 'presence.grid.example');
    const [sent] = xmpp.sent;
    expect(sent?.attrs.to).toBe('presence.grid.example');
    expect(sent?.attrs.type).toBeUndefined();
    expect(sent?.getChild('meter', NS_METER)?.attrs).toMatchObject({
      state: 'available',
      seq: '7',
    });
    // a heartbeat is not an announcement: the broadcast bookkeeping is untouched
    expect(announcer.lastSentSeq).toBe(0);
  });

  it('sends nothing while offline or decoupled', async () => {
    const xmpp = fakeXmpp();
    const announcer = createPresenceAnnouncer({ xmpp: xmpp.client, logger: silentLogger() });
    await announcer.heartbeat(status('available'), 'presence.grid.example');
    announcer.setReady(true);
    await announcer.heartbeat(status('decoupled'), 'presence.grid.example');
    expect(xmpp.sent).toEqual([]);
  });
});
