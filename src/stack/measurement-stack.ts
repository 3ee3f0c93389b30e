import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@xmpp/client';
import { ensureProsodyInstalled } from '../harness/index.js';
import { type Logger, silentLogger } from '../log.js';
import { createClient } from '../xmpp/create-client.js';
import { awaitStreamManagement } from '../xmpp/workarounds/await-stream-management.js';
import { type Stack, startStack } from './start-stack.js';
import { waitFor } from './wait.js';

// What the measurement scripts share: a quiet stack in a temp dir with every meter in one fleet
// process, online and recorded, and a plain account's logged-in client for the floors.

export interface MeasurementStack {
  stack: Stack;
  /** Seconds from starting the fleet until every meter was recorded available. */
  onlineAfterS: number;
  close(): Promise<void>;
}

export async function startMeasurementStack(options: {
  meterCount: number;
  logger: Logger;
  onlineTimeoutMs?: number;
}): Promise<MeasurementStack> {
  const { meterCount, logger } = options;
  await ensureProsodyInstalled(logger);
  const dataDir = mkdtempSync(join(tmpdir(), 'gp-measure-'));
  const stack = await startStack({
    dataDir,
    meterCount,
    logger: silentLogger(),
    serviceLogLevel: 'warn',
    agentConfig: { meter: { eventRatePerHour: 0 }, log: { level: 'warn' } },
  });
  const close = async () => {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    logger.info({ meters: meterCount }, 'starting the fleet');
    const started = Date.now();
    stack.startFleet();
    await waitFor(
      `all ${meterCount} meters recorded available`,
      async () => {
        const res = await fetch(`${stack.apiUrl}/api/stats`, {
          headers: { authorization: `Bearer ${stack.apiToken}` },
        });
        const body = (await res.json()) as {
          counts: Record<string, number>;
        };
        return body.counts.available === meterCount || undefined;
      },
      options.onlineTimeoutMs ?? 300_000,
      250,
    );
    const onlineAfterS = (Date.now() - started) / 1000;
    logger.info({ seconds: onlineAfterS.toFixed(1) }, 'fleet online');
    return { stack, onlineAfterS, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A plain account logged into the stack's Prosody over direct TLS, ready for stanzas. */
export async function loginAccount(
  stack: Stack,
  username: string,
  password: string,
  resource: string,
): Promise<Client> {
  const xmpp = await createClient({
    service: `xmpps://${stack.prosody.host}:${stack.prosody.directTlsPort}`,
    domain: stack.prosody.domain,
    username,
    password,
    resource,
    caPem: readFileSync(stack.prosody.caFile, 'utf8'),
    logger: silentLogger(),
  });
  xmpp.on('error', () => {});
  await xmpp.start();
  await awaitStreamManagement(xmpp);
  return xmpp;
}
