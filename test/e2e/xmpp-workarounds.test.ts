import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Element } from '@xmpp/xml';
import xml from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensurePki,
  ensureProsodyInstalled,
  type RunningProsody,
  startProsody,
} from '../../src/harness/index.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../../src/stack/wait.js';
import { isClientAuthFailure } from '../../src/xmpp/auth-errors.js';
import { createBackoff } from '../../src/xmpp/backoff.js';
import {
  type SupervisedEntity,
  superviseConnection,
} from '../../src/xmpp/connection-supervisor.js';
import { createClient } from '../../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../../src/xmpp/workarounds/await-stream-management.js';

// The stream-management race (XMPP-NOTES): xmpp.js says `online` before it sends <enable/>.
// The supervisor must hold the first presence until <enabled/> has been processed.

let prosody: RunningProsody;

beforeAll(async () => {
  await ensureProsodyInstalled();
  prosody = await startProsody();
  await prosody.createAccounts([{ username: 'mtr-sm', password: 'sm-password-1' }]);
});

afterAll(async () => {
  await prosody?.stop();
});

async function firstPresenceOrder(withWorkaround: boolean): Promise<string[]> {
  const xmpp = await createClient({
    service: `xmpps://${prosody.host}:${prosody.directTlsPort}`,
    domain: prosody.domain,
    username: 'mtr-sm',
    password: 'sm-password-1',
    resource: 'agent',
    caPem: readFileSync(prosody.caFile, 'utf8'),
    logger: silentLogger(),
  });
  const order: string[] = [];
  xmpp.on('send', (element: Element) => order.push(`sent ${element.name}`));
  xmpp.on('element', (element: Element) => order.push(`received ${element.name}`));
  const supervisor = superviseConnection({
    entity: xmpp as unknown as SupervisedEntity,
    backoff: createBackoff({ baseMs: 100, maxMs: 1000 }),
    logger: silentLogger(),
    isFatal: isClientAuthFailure,
    ...(withWorkaround ? { whenReady: () => awaitStreamManagement(xmpp) } : {}),
    hooks: {
      onReady: () => xmpp.send(xml('presence')),
      onFatal: () => {},
    },
  });
  supervisor.start();
  await waitFor('the first presence', () => order.includes('sent presence'), 10_000);
  await supervisor.stop();
  return order;
}

describe('workaround: first presence only after XEP-0198 <enabled/>', () => {
  it('sends the presence after <enabled/> with the workaround', async () => {
    const order = await firstPresenceOrder(true);
    expect(order.indexOf('sent enable')).toBeGreaterThan(-1);
    expect(order.indexOf('received enabled')).toBeGreaterThan(order.indexOf('sent enable'));
    expect(order.indexOf('received enabled')).toBeLessThan(order.indexOf('sent presence'));
  });

  it('shows the race without it: xmpp.js is online before it even sends <enable/>', async () => {
    const order = await firstPresenceOrder(false);
    expect(order.indexOf('sent presence')).toBeLessThan(order.indexOf('sent enable'));
  });
});

describe('a private CA shared by many clients (one SecureContext per CA)', () => {
  const connect = async (caPem: string) => {
    const xmpp = await createClient({
      service: `xmpps://${prosody.host}:${prosody.directTlsPort}`,
      domain: prosody.domain,
      username: 'mtr-sm',
      password: 'sm-password-1',
      resource: `ca-${Math.random().toString(16).slice(2)}`,
      caPem,
      logger: silentLogger(),
    });
    xmpp.on('error', () => {});
    try {
      await xmpp.start();
      return 'online';
    } catch (error) {
      return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    } finally {
      await xmpp.stop().catch(() => {});
    }
  };

  it('verifies every connection against that CA, and refuses a server another CA signed', async () => {
    const right = readFileSync(prosody.caFile, 'utf8');
    expect(await connect(right)).toBe('online');
    expect(await connect(right)).toBe('online');
    // A second harness CA, made for this test: the server's certificate does not chain to it.
    const dir = mkdtempSync(join(tmpdir(), 'gp-other-ca-'));
    const other = await ensurePki(dir, prosody.domain, silentLogger());
    const wrong = readFileSync(other.caFile, 'utf8');
    expect(await connect(wrong)).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|unable to verify/i);
    // And the right CA still works after the wrong one was tried.
    expect(await connect(right)).toBe('online');
  });
});
