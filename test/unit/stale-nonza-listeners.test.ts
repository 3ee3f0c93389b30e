import { createServer, type Server, type Socket } from 'node:net';
import type { Client } from '@xmpp/client';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createClient } from '../../src/xmpp/create-client.js';

// src/xmpp/workarounds/stale-nonza-listeners.ts: a login cut off in the middle of SASL must not
// answer for the next login of the same client. A scripted server on loopback (plain TCP, SCRAM
// only) plays the two connections; the real-server figure is the reconnect storm of the bench.

const FEATURES =
  "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='grid.test' id='s1' version='1.0'>";

let server: Server | undefined;
let xmpp: Client | undefined;

afterEach(async () => {
  await xmpp?.disconnect().catch(() => {});
  await new Promise((resolve) => server?.close(resolve));
});

/** Connection 1 is cut after `<auth>`; connection 2 gets a challenge and counts the answers. */
function scriptedServer(): { listening: Promise<number>; responses: () => number } {
  let connections = 0;
  let responses = 0;
  server = createServer((socket: Socket) => {
    connections += 1;
    const which = connections;
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('utf8');
      if (seen.includes('<stream:stream') && !seen.includes('<auth')) {
        if (!socket.write(HEADER + FEATURES)) return;
      }
      const auth = /<auth [^>]*>([^<]*)<\/auth>/.exec(seen);
      if (!auth) return;
      if (which === 1) {
        socket.destroy();
        return;
      }
      if (!seen.includes('<challenge-sent/>')) {
        seen += '<challenge-sent/>';
        const clientFirst = Buffer.from(auth[1] ?? '', 'base64').toString('utf8');
        const nonce = /r=([^,]+)/.exec(clientFirst)?.[1] ?? '';
        const serverFirst = `r=${nonce}server,s=${Buffer.from('salt').toString('base64')},i=4096`;
        socket.write(
          `<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(serverFirst).toString('base64')}</challenge>`,
        );
      }
      responses = (seen.match(/<response /g) ?? []).length;
    });
    socket.on('error', () => {});
  });
  const listening = new Promise<number>((resolve) => {
    server?.listen(0, '127.0.0.1', () => {
      const address = server?.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return { listening, responses: () => responses };
}

describe('a login cut off during SASL', () => {
  it('leaves nothing behind that answers the next login', async () => {
    const scripted = scriptedServer();
    const port = await scripted.listening;
    xmpp = await createClient({
      service: `xmpp://127.0.0.1:${port}`,
      domain: 'grid.test',
      username: 'mtr-1',
      password: 'secret-1',
      resource: 'agent',
      logger: silentLogger(),
    });
    xmpp.on('error', () => {});
    const nonzaListeners = () => (xmpp as unknown as NodeJS.EventEmitter).listenerCount('nonza');

    // Connection 1: the server cuts it after <auth>; SASL's listener is left waiting.
    xmpp.start().catch(() => {});
    const cut = Date.now();
    while (xmpp.status !== 'disconnect' && xmpp.status !== 'offline' && Date.now() - cut < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(nonzaListeners()).toBe(1);

    // Connection 2 of the same client: one SCRAM answer to the challenge, not two.
    xmpp.reconnect.reconnect().catch(() => {});
    const start = Date.now();
    while (scripted.responses() === 0 && Date.now() - start < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Give a stale listener time to answer as well (it would within a millisecond or two).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(scripted.responses()).toBe(1);
    expect(nonzaListeners()).toBe(1);
  });
});
