import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureProsodyInstalled } from '../../../src/harness/index.js';
import { silentLogger } from '../../../src/log.js';
import { type Stack, type StackOptions, startStack } from '../../../src/stack/start-stack.js';

/**
 * A fresh stack in a temp dir, with the shipped liveness settings and no random meter events;
 * `service` overrides parts of the service's config (its ACL, group command settings),
 * `agentConfig` parts of every agent's.
 */
export async function startTestStack(
  meterCount: number,
  options: Pick<StackOptions, 'service' | 'agentConfig'> = {},
): Promise<Stack> {
  await ensureProsodyInstalled();
  const dataDir = mkdtempSync(join(tmpdir(), 'gp-e2e-'));
  const stack = await startStack({
    dataDir,
    meterCount,
    logger: silentLogger(),
    service: options.service,
    agentConfig: {
      ...options.agentConfig,
      meter: { eventRatePerHour: 0, ...options.agentConfig?.meter },
      reconnect: {
        backoffBaseMs: 200,
        backoffMaxMs: 2_000,
        spreadMs: 1_000,
        ...options.agentConfig?.reconnect,
      },
    },
  });
  const stop = stack.stop.bind(stack);
  stack.stop = async () => {
    await stop();
    // GP_KEEP_TEST_DIRS=1 keeps the logs and databases for a post-mortem.
    if (!process.env.GP_KEEP_TEST_DIRS) rmSync(dataDir, { recursive: true, force: true });
  };
  return stack;
}
