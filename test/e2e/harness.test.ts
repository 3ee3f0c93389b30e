import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { client } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProsodyAccounts,
  prosodyAccountExists,
  type RunningProsody,
  startProsody,
} from '../../src/harness/index.js';
import { acceptsConnections } from '../../src/harness/ports.js';

// The harness against a real Prosody (STYLE §7): ports, TLS with the private CA, accounts, a real
// XMPP login, restart and a clean stop.

const METER = { username: 'meter-1', password: 'pw-1' };
// Quotes, backslash and a Lua comment: the password must survive the trip through the shell.
const PERSON = { username: 'alice', password: `a"b\\c'--]]é` };

let prosody: RunningProsody;
let ca: string;

beforeAll(async () => {
  prosody = await startProsody();
  ca = readFileSync(prosody.caFile, 'utf8');
});

afterAll(async () => {
  await prosody?.stop();
});

/** Resolves with the TLS outcome of a direct TLS connection: 'verified' or the error code. */
function tlsHandshake(options: { ca?: string }): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: prosody.host,
      port: prosody.directTlsPort,
      servername: prosody.domain,
      ...options,
    });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('verified');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve(error.code ?? error.message);
    });
  });
}

/**
 * Logs in over XEP-0368 direct TLS and logs out again. Trusts only our CA, or with
 * `trustCa: false` nothing but the system CAs.
 */
async function login(
  account: { username: string; password: string },
  server: RunningProsody = prosody,
  trustCa = true,
): Promise<string> {
  const xmpp = client({
    service: `xmpps://${server.host}:${server.directTlsPort}`,
    domain: server.domain,
    resource: 'test',
    ...account,
  });
  // @xmpp/client has no TLS option (XMPP-NOTES "xmpp.js"): extend the socket parameters its
  // transport computes with our CA, keeping verification on.
  const entity = xmpp as unknown as {
    Transport: { prototype: { socketParameters(service: string): object } };
    socketParameters: (service: string) => object;
  };
  if (trustCa) {
    entity.socketParameters = (service) => ({
      ...entity.Transport.prototype.socketParameters(service),
      ca: readFileSync(server.caFile, 'utf8'),
      servername: server.domain,
    });
  }
  xmpp.on('error', () => {}); // start() rejects with the same error
  const online = new Promise<string>((resolve) => {
    xmpp.once('online', (address) => resolve(address.toString()));
  });
  await xmpp.start();
  const address = await online;
  await xmpp.stop();
  return address;
}

describe('startProsody', () => {
  it('listens on the c2s, direct TLS, component and HTTP ports', async () => {
    const ports = [prosody.c2sPort, prosody.directTlsPort, prosody.componentPort, prosody.httpPort];
    expect(new Set(ports).size).toBe(4);
    for (const port of ports) expect(await acceptsConnections(port), `port ${port}`).toBe(true);
    expect(prosody.componentJid).toBe(`presence.${prosody.domain}`);
    expect(prosody.componentSecret).toMatch(/^[0-9a-f]{32}$/);
  });

  it('serves a certificate that verifies against the harness CA and only against it', async () => {
    expect(await tlsHandshake({ ca })).toBe('verified');
    expect(await tlsHandshake({})).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('creates accounts (twice is harmless) that can log in over direct TLS', async () => {
    await prosody.createAccounts([METER, PERSON]);
    await prosody.createAccounts([METER, PERSON]);
    expect(await prosodyAccountExists(prosody.configFile, `alice@${prosody.domain}`)).toBe(true);
    expect(await login(PERSON)).toBe(`alice@${prosody.domain}/test`);
    expect(await login(METER)).toBe(`meter-1@${prosody.domain}/test`);
    await expect(login(METER, prosody, false)).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('deletes accounts', async () => {
    await prosody.createAccounts([{ username: 'gone', password: 'x' }]);
    await prosody.deleteAccount('gone');
    await prosody.deleteAccount('gone'); // already gone: still fine
    expect(await prosodyAccountExists(prosody.configFile, `gone@${prosody.domain}`)).toBe(false);
  });

  it('reports a failed account change (read from the shell output, not an exit code)', async () => {
    await expect(
      createProsodyAccounts(prosody.configFile, 'no-such-host.example', [
        { username: 'x', password: 'secret-password' },
      ]),
    ).rejects.toThrow(/no-such-host/);
  });

  it('restarts on the same ports with the same accounts', async () => {
    const before = prosody.pid;
    await prosody.restart();
    expect(prosody.pid).not.toBe(before);
    expect(() => process.kill(before, 0)).toThrow();
    expect(await acceptsConnections(prosody.directTlsPort)).toBe(true);
    expect(await login(METER)).toBe(`meter-1@${prosody.domain}/test`);
  });

  it('stops its own process and nothing else, and stop() is idempotent', async () => {
    const pid = prosody.pid;
    await prosody.stop();
    await prosody.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await acceptsConnections(prosody.c2sPort)).toBe(false);
  });
});

describe('startProsody with a dir from an earlier run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gridpresence-harness-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the CA, the component secret and the accounts', async () => {
    const first = await startProsody({ dir });
    let second: RunningProsody | undefined;
    try {
      await first.createAccounts([METER]);
      await first.stop();
      second = await startProsody({ dir });
      expect(second.componentSecret).toBe(first.componentSecret);
      expect(readFileSync(second.caFile, 'utf8')).toBe(readFileSync(first.caFile, 'utf8'));
      expect(await login(METER, second)).toBe(`meter-1@${second.domain}/test`);
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});
