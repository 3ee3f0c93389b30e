import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../meter-agent/config.js';
import type { ServiceConfig } from '../../presence-service/config.js';
import { openDatabase } from '../../presence-service/store/database.js';
import { pkiFiles } from '../../src/harness/pki.js';
import { findFreePorts } from '../../src/harness/ports.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { apiFetch, getHistory, getJson, waitForRecordedState } from './helpers/api.js';
import { startTestStack } from './helpers/test-stack.js';

// Issue 4, e-mail polling through the real programs: the service process and an agent process,
// each with its SMTP listener (STARTTLS, the harness CA), the agent's XMPP server unreachable,
// so that e-mail is its only way to the service. A schedule polls it every few seconds.

const METER = 'mtr-0001';
const SERVICE_ADDRESS = 'presence@grid.localhost';
const METER_ADDRESS = 'mtr-0001@meters.grid.localhost';

let stack: Stack;

beforeAll(async () => {
  stack = await startTestStack(1);
  const [servicePort, agentPort, closedPort] = await findFreePorts(3);
  const pki = pkiFiles(dirname(stack.prosody.caFile), stack.prosody.domain);
  const tls = { certFile: pki.certFile, keyFile: pki.keyFile };
  const sendTo = (port: number | undefined) => ({
    host: '127.0.0.1',
    port,
    security: 'starttls',
    caFile: pki.caFile,
    servername: 'localhost',
  });

  const serviceConfig = JSON.parse(readFileSync(stack.serviceConfigFile, 'utf8')) as ServiceConfig;
  writeFileSync(
    stack.serviceConfigFile,
    JSON.stringify({
      ...serviceConfig,
      email: {
        address: SERVICE_ADDRESS,
        outgoing: sendTo(agentPort),
        incoming: { host: '127.0.0.1', port: servicePort, ...tls },
        replyTimeoutS: 60,
      },
      polling: {
        schedules: [{ name: 'email-often', cron: '*/10 * * * * *', kind: 'email', spreadS: 0 }],
      },
    }),
    { mode: 0o600 },
  );
  const db = openDatabase(serviceConfig.database.path);
  db.prepare('UPDATE meters SET email = ? WHERE id = ?').run(METER_ADDRESS, METER);
  db.close();

  const handle = stack.agents.get(METER);
  if (!handle) throw new Error(`no agent ${METER}`);
  const agentConfig = JSON.parse(readFileSync(handle.configFile, 'utf8')) as AgentConfig;
  writeFileSync(
    handle.configFile,
    JSON.stringify({
      ...agentConfig,
      // nothing listens there: this meter reaches the service by e-mail only
      xmpp: { ...agentConfig.xmpp, port: closedPort },
      email: {
        address: METER_ADDRESS,
        serviceAddress: SERVICE_ADDRESS,
        incoming: { host: '127.0.0.1', port: agentPort, ...tls },
        outgoing: sendTo(servicePort),
      },
    }),
    { mode: 0o600 },
  );
  await stack.service.stop();
  await stack.startService();
  stack.startAgent(METER);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

interface EmailPollView {
  outcome: string;
  sentAt: string;
  answeredAt: string | null;
}

describe('e-mail polling between the real programs (issue 4)', () => {
  it('records the state of a meter reachable only by e-mail, source email', async () => {
    const meter = await waitForRecordedState(stack, METER, 'available', undefined, 30_000);
    expect(meter.reason).toBeNull();
    const history = await getHistory(stack, METER);
    expect(history.at(-1)).toMatchObject({ state: 'available', source: 'email' });
    const { polls } = await getJson<{ polls: EmailPollView[] }>(
      stack,
      `/api/meters/${METER}/email-polls`,
    );
    expect(polls).toContainEqual(expect.objectContaining({ outcome: 'answered' }));
  }, 60_000);

  it('sends a poll on request (POST), answered by the agent', async () => {
    // The agent answers at most one poll per 5 s (450 otherwise, which the service reports as
    // 502): a poll by hand right after a scheduled one is tried again, as a person would.
    const status = await waitFor(
      'the poll to be sent',
      async () => {
        const res = await apiFetch(stack, `/api/meters/${METER}/email-poll`, { method: 'POST' });
        return res.status === 502 ? undefined : res.status;
      },
      20_000,
      2_000,
    );
    expect(status).toBe(202);
    const answered = await waitFor(
      'the requested poll to be answered',
      async () => {
        const { polls } = await getJson<{ polls: EmailPollView[] }>(
          stack,
          `/api/meters/${METER}/email-polls?limit=50`,
        );
        return polls.filter((p) => p.outcome === 'answered').length >= 2 ? polls : undefined;
      },
      20_000,
    );
    expect(answered.length).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
