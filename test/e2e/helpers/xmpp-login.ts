import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningProsody } from '../../../src/harness/index.js';
import { silentLogger } from '../../../src/log.js';
import { createClient } from '../../../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../../../src/xmpp/workarounds/await-stream-management.js';

// "Can this account log in?", asked of the harness Prosody the way a meter asks it: direct TLS
// (XEP-0368) verified against the harness CA, SASL, resource binding; then a clean logout.

export type LoginResult =
  | { ok: true; jid: string }
  | { ok: false; name: string; condition: string | undefined; message: string };

export async function tryLogin(
  prosody: RunningProsody,
  username: string,
  password: string,
): Promise<LoginResult> {
  const xmpp = await createClient({
    service: `xmpps://${prosody.host}:${prosody.directTlsPort}`,
    domain: prosody.domain,
    username,
    password,
    resource: 'login-check',
    caPem: readFileSync(prosody.caFile, 'utf8'),
    logger: silentLogger(),
  });
  xmpp.on('error', () => {}); // start() rejects with the same error
  try {
    const jid = await xmpp.start();
    await awaitStreamManagement(xmpp);
    return { ok: true, jid: jid.toString() };
  } catch (error) {
    const e = error as { name?: string; condition?: string; message?: string };
    return {
      ok: false,
      name: e.name ?? 'Error',
      condition: e.condition,
      message: e.message ?? String(error),
    };
  } finally {
    await xmpp.stop().catch(() => {});
  }
}

/** Prosody's own log (the harness logs at level info). */
export const prosodyLogFile = (prosody: RunningProsody) => join(prosody.dir, 'logs', 'prosody.log');

/** A mark in Prosody's log: what it logs from now on can be read with `since`. */
export function prosodyLogMark(prosody: RunningProsody): { since(): string } {
  const file = prosodyLogFile(prosody);
  const offset = readFileSync(file).length;
  return { since: () => readFileSync(file).subarray(offset).toString('utf8') };
}

/** How many lines of `text` contain `needle`. */
export const countLines = (text: string, needle: string) =>
  text.split('\n').filter((line) => line.includes(needle)).length;
