import type { Client } from '@xmpp/client';
import { type Component, component } from '@xmpp/component';
import xml, { type Element } from '@xmpp/xml';
import { buildMeterPresence, parseMeterPresence } from '../../src/protocol/meter-status.js';
import { loginAccount } from '../../src/stack/measurement-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { installXmppWorkarounds } from '../../src/xmpp/create-client.js';
import type { BenchContext } from './context.js';
import { logSize } from './fleet-logs.js';

// The floor of the presence path: bare xmpp.js clients (plain accounts, no agent code) whose
// presence a bare xmpp.js component (no store, no HTTP) has subscribed to, through the same
// Prosody with the same N meters online. The harness Prosody has one component, which the
// service holds, so the service is stopped while the floor is measured and started again
// afterwards (its recovery sweep is waited for, so that the next scenario starts quiet).
//
// Like a meter, a client announces a change as a broadcast presence with the <meter/> extension
// (PROTOCOL §1), which Prosody routes to the subscribed component through the roster.

export interface BarePath {
  readonly clients: readonly Client[];
  /** The usernames of `clients`, by index. */
  readonly usernames: readonly string[];
  /** A broadcast presence like a meter's (fault ↔ available by parity), keyed by `seq`. */
  presence(seq: number): Element;
  /** Called with `<username>#<seq>` and the arrival time for every presence the component gets. */
  onArrival(listener: (key: string, atMs: number) => void): () => void;
}

const preciseNow = () => performance.timeOrigin + performance.now();

export async function withBarePath<T>(
  ctx: BenchContext,
  measure: (bare: BarePath) => Promise<T>,
): Promise<T> {
  const { stack } = ctx;
  const serviceLogOffset = logSize(ctx.serviceLogFile());
  await stack.service.stop();
  await installXmppWorkarounds();
  const bareComponent = component({
    service: `xmpp://${stack.prosody.host}:${stack.prosody.componentPort}`,
    domain: stack.prosody.componentJid,
    password: stack.prosody.componentSecret,
  });
  bareComponent.reconnect.stop();
  bareComponent.on('error', () => {});
  // As the service does: Nagle's algorithm would put tens of ms on the p99 (XMPP-NOTES).
  bareComponent.on('connect', () => bareComponent.socket?.setNoDelay(true));
  const clients: Client[] = [];
  try {
    await bareComponent.start();
    const listeners = new Set<(key: string, atMs: number) => void>();
    bareComponent.on('stanza', (stanza: Element) => {
      if (!stanza.is('presence') || stanza.attrs.type !== undefined) return;
      const atMs = preciseNow();
      const parsed = parseMeterPresence(stanza);
      if (parsed.kind !== 'status') return;
      const username = String(stanza.attrs.from).split('@')[0] as string;
      const key = `${username}#${parsed.status.seq}`;
      for (const listener of listeners) listener(key, atMs);
    });
    for (const account of ctx.floorAccounts) {
      clients.push(await subscribedClient(ctx, bareComponent, account));
    }
    const usernames = ctx.floorAccounts.map((a) => a.username);
    const since = new Date().toISOString();
    return await measure({
      clients,
      usernames,
      presence: (seq) =>
        buildMeterPresence({
          state: seq % 2 === 1 ? 'unavailable' : 'available',
          seq,
          since,
          kind: 'revenue-meter',
          ...(seq % 2 === 1 && { reason: { code: 'fault', text: 'metrology-fault' } }),
        }),
      onArrival(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    });
  } finally {
    await Promise.all(clients.map((c) => c.stop().catch(() => {})));
    await bareComponent.stop().catch(() => {});
    await stack.startService();
    await ctx.waitForRecovery(serviceLogOffset, 60_000 + ctx.options.meters * 10);
  }
}

/** A bare client logged in, with the bare component subscribed to its presence. */
async function subscribedClient(
  ctx: BenchContext,
  bareComponent: Component,
  account: { username: string; password: string },
): Promise<Client> {
  const { stack } = ctx;
  const client = await loginAccount(stack, account.username, account.password, 'floor');
  const componentJid = stack.prosody.componentJid;
  client.on('stanza', (stanza: Element) => {
    if (stanza.is('presence') && stanza.attrs.type === 'subscribe') {
      void client.send(xml('presence', { to: stanza.attrs.from, type: 'subscribed' }));
    }
  });
  const bareJid = `${account.username}@${stack.prosody.domain}`;
  let seen = false;
  const onPresence = (stanza: Element) => {
    if (stanza.is('presence') && String(stanza.attrs.from).startsWith(`${bareJid}/`)) seen = true;
  };
  bareComponent.on('stanza', onPresence);
  try {
    await client.send(xml('presence'));
    await bareComponent.send(
      xml('presence', { from: componentJid, to: bareJid, type: 'subscribe' }),
    );
    // Approved: Prosody hands the component the client's current presence.
    await waitFor(`${bareJid}'s presence at the bare component`, () => seen, 10_000, 10);
  } finally {
    bareComponent.removeListener('stanza', onPresence as (...args: never[]) => void);
  }
  return client;
}
