import { readFileSync } from 'node:fs';
import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComponentConnection } from '../../presence-service/xmpp/component-connection.js';
import {
  createLastActivityQuerier,
  type LastActivityQuerier,
} from '../../presence-service/xmpp/last-activity-querier.js';
import { type RunningProsody, startProsody } from '../../src/harness/index.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../../src/stack/wait.js';
import { createClient } from '../../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../../src/xmpp/workarounds/await-stream-management.js';
import { startTestComponent } from './helpers/test-component.js';

// XEP-0012 from the presence service's component to meters' bare JIDs on a real Prosody 0.12
// (STYLE §7), proving what last-activity-querier.ts says the server answers: the time since the
// account's last unavailable presence and its status text, also while the account is online;
// 0 s and no text when it has none (an account online since the server started, or any after a
// restart); its own "Disconnected: …" for a dropped link; forbidden when the asker is not
// subscribed to the account's presence or the account does not exist.

const METERS = ['mtr-0001', 'mtr-0002', 'mtr-0003', 'mtr-0004'].map((id) => ({
  username: id,
  password: `${id}-secret`,
}));

let prosody: RunningProsody;
let connection: ComponentConnection;
let ask: LastActivityQuerier;
let toComponent: Element[] = [];
const meters: Client[] = [];

beforeAll(async () => {
  // A dropped session is given up after 1 s of hibernation, so its goodbye is written quickly.
  prosody = await startProsody({ liveness: { readTimeoutS: 15, hibernationS: 1 } });
  await prosody.createAccounts(METERS);
  ({ connection, received: toComponent } = await startTestComponent(prosody));
  ask = createLastActivityQuerier({
    xmpp: connection.xmpp,
    componentJid: prosody.componentJid,
    domain: prosody.domain,
  });
}, 60_000);

afterAll(async () => {
  for (const meter of meters) await meter.stop().catch(() => {});
  await connection?.supervisor.stop();
  await prosody?.stop();
});

/** Logs a meter in as its agent would (available presence, approves the service's request). */
async function login(username: string): Promise<Client> {
  const meter = METERS.find((m) => m.username === username);
  const xmpp = await createClient({
    service: `xmpps://${prosody.host}:${prosody.directTlsPort}`,
    domain: prosody.domain,
    username,
    password: meter?.password ?? '',
    resource: 'agent',
    caPem: readFileSync(prosody.caFile, 'utf8'),
    logger: silentLogger(),
  });
  meters.push(xmpp);
  xmpp.on('error', () => {});
  xmpp.on('stanza', (s: Element) => {
    if (s.is('presence') && s.attrs.type === 'subscribe') {
      void xmpp.send(xml('presence', { to: s.attrs.from, type: 'subscribed' }));
    }
  });
  await xmpp.start();
  await awaitStreamManagement(xmpp);
  await xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
  await xmpp.send(xml('presence'));
  return xmpp;
}

/** PROTOCOL §2: the service subscribes to the meter's presence, which Prosody requires. */
async function subscribe(meterId: string): Promise<void> {
  await connection.xmpp.send(
    xml('presence', {
      from: prosody.componentJid,
      to: `${meterId}@${prosody.domain}`,
      type: 'subscribe',
    }),
  );
  await waitFor(
    `${meterId} approving`,
    () =>
      toComponent.find(
        (s) => s.attrs.type === 'subscribed' && String(s.attrs.from).startsWith(meterId),
      ),
    10_000,
  );
}

/** One XEP-0012 question from the component, as a last-activity poll asks it. */
const answer = (meterId: string) => ask(meterId, 5_000);

describe('XEP-0012 last activity from Prosody', () => {
  it('gives the seconds since a meter logged out and the status text it left with', async () => {
    const meter = await login('mtr-0001');
    await subscribe('mtr-0001');
    const leftAt = Date.now();
    await meter.send(
      xml('presence', { type: 'unavailable' }, xml('status', {}, 'Decoupled: shutdown')),
    );
    await meter.stop();

    const outcome = await answer('mtr-0001');
    expect(outcome).toMatchObject({ kind: 'last', statusText: 'Decoupled: shutdown' });
    const idleS = (outcome as { idleS: number }).idleS;
    expect(Number.isInteger(idleS)).toBe(true);
    expect(idleS).toBeGreaterThanOrEqual(0);
    // Whole seconds on the server's clock: at most one more than really passed.
    expect(idleS).toBeLessThanOrEqual(Math.ceil((Date.now() - leftAt) / 1000) + 1);
  });

  it('answers for an online meter too: its last logout, or 0 s and no text if it has none', async () => {
    await login('mtr-0001'); // back online after the goodbye above
    expect(await answer('mtr-0001')).toMatchObject({
      kind: 'last',
      statusText: 'Decoupled: shutdown',
    });
    await login('mtr-0002'); // online, never logged out
    await subscribe('mtr-0002');
    expect(await answer('mtr-0002')).toEqual({ kind: 'last', idleS: 0, statusText: null });
  });

  it('keeps the text Prosody writes when it gives up on a dropped link', async () => {
    const meter = await login('mtr-0003');
    await subscribe('mtr-0003');
    // The link dies without a goodbye: the server closes the session after hibernation.
    (meter as unknown as { socket: { socket: { destroy(): void } } }).socket.socket.destroy();
    const outcome = await waitFor(
      "Prosody's goodbye for mtr-0003",
      async () => {
        const o = await ask('mtr-0003', 2_000);
        return o.kind === 'last' && o.statusText !== null ? o : undefined;
      },
      20_000,
      200,
    );
    expect(outcome.statusText).toMatch(/^Disconnected: /);
  });

  it('is forbidden for an account the service is not subscribed to, and for an unknown one', async () => {
    expect(await answer('mtr-0004')).toEqual({ kind: 'error', error: 'forbidden' });
    expect(await answer('no-such-meter')).toEqual({ kind: 'error', error: 'forbidden' });
  });

  it('knows nothing after a server restart: 0 s and no text, the subscription kept', async () => {
    await prosody.restart();
    // mtr-0001 logged out with a text before the restart; Prosody kept it in memory only. The
    // first answers fail while the component reconnects.
    const outcome = await waitFor(
      'the component back and an answer',
      async () => {
        const o = await ask('mtr-0001', 2_000);
        return o.kind === 'last' ? o : undefined;
      },
      20_000,
      200,
    );
    expect(outcome).toEqual({ kind: 'last', idleS: 0, statusText: null });
  });
});
