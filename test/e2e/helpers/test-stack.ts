import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureProsodyInstalled } from '../../../src/harness/index.js';
import { silentLogger } from '../../../src/log.js';
import { type Stack, startStack } from '../../../src/stack/start-stack.js';

/** A fresh stack in a temp dir, with the shipped liveness settings and no random meter events. */
export async function startTestStack(meterCount: number): Promise<Stack> {
  await ensureProsodyInstalled();
  const dataDir = mkdtempSync(join(tmpdir(), 'gp-e2e-'));
  return startStack({
    dataDir,
    meterCount,
    logger: silentLogger(),
    agentConfig: {
      meter: { eventRatePerHour: 0 },
      reconnect: { backoffBaseMs: 200, backoffMaxMs: 2_000 },
    },
  });
}
