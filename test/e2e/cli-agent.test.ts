import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { agentConfigSchema } from '../../meter-agent/config.js';
import { type RunningProsody, startProsody } from '../../src/harness/index.js';
import { waitFor } from '../../src/stack/wait.js';
import { minimumDelayMs } from '../../src/xmpp/backoff.js';
import {
  type CliProcess,
  closedPort,
  logLines,
  runCli,
  startCli,
  tempDirs,
} from './helpers/cli-process.js';
import { countLines, prosodyLogMark } from './helpers/xmpp-login.js';

// The `meter-agent` command line, end to end: the built program as a real process against a real
// Prosody. What a technician sees: exit codes, messages naming the problem, the status report,
// and how the agent behaves when the server refuses it or cannot be reached.

const METER = { id: 'mtr-0001', password: 'meter-pass-0001' };
const BACKOFF = { baseMs: 100, maxMs: 800 };

let prosody: RunningProsody;
const dirs = tempDirs('gp-cli-agent-');
const agents = new Set<CliProcess>();

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.createAccounts([{ username: METER.id, password: METER.password }]);
});

afterEach(async () => {
  await Promise.all([...agents].map((agent) => agent.stop()));
  agents.clear();
});

afterAll(async () => {
  await prosody?.stop();
  dirs.removeAll();
});

type AgentInput = z.input<typeof agentConfigSchema>;

/** A valid config for METER against the harness Prosody, with its own fresh data dir. */
function agentConfig(overrides: Partial<AgentInput> = {}): AgentInput {
  return {
    meterId: METER.id,
    domain: prosody.domain,
    kind: 'revenue-meter',
    xmpp: {
      host: prosody.host,
      port: prosody.directTlsPort,
      password: METER.password,
      caFile: prosody.caFile,
    },
    acl: [],
    dataDir: join(dirs.make(), 'data'),
    reconnect: { backoffBaseMs: BACKOFF.baseMs, backoffMaxMs: BACKOFF.maxMs },
    meter: { driver: 'simulated', seed: 1, eventRatePerHour: 0, nominalVoltageV: 230 },
    log: { level: 'info' },
    telemetry: { intervalS: 60, outboxMaxBytes: 4 * 1024 * 1024 },
    ...overrides,
  };
}

/** Writes `config` (valid or not) as a file of its own and returns the path. */
function writeConfig(config: unknown): string {
  const file = join(dirs.make(), 'agent.json');
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

function startAgent(configFile: string): CliProcess {
  const agent = startCli('meter-agent', ['run', '--config', configFile]);
  agents.add(agent);
  return agent;
}

const messages = (stdout: string, msg: string) => logLines(stdout).filter((l) => l.msg === msg);

interface StatusReport {
  connected: boolean;
  reconnects: number;
  status: { state: string; seq: number; reason?: { code: string; text?: string } };
}

async function statusJson(configFile: string): Promise<StatusReport> {
  const result = await runCli('meter-agent', ['status', '--json', '--config', configFile]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as StatusReport;
}

describe('usage', () => {
  it('--help exits 0 and lists the commands', async () => {
    const result = await runCli('meter-agent', ['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: meter-agent <command>/);
    for (const command of ['run', 'status', 'simulate', 'maintenance', 'fleet']) {
      expect(result.stdout).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
    }
    expect(result.stdout).toContain('Exit codes:');
  });

  it('an unknown command exits 2 and names it, with or without a config', async () => {
    const without = await runCli('meter-agent', ['frobnicate']);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain("unknown command 'frobnicate'");
    const withConfig = await runCli('meter-agent', [
      'frobnicate',
      '--config',
      writeConfig(agentConfig()),
    ]);
    expect(withConfig.code).toBe(2);
    expect(withConfig.stderr).toContain("unknown command 'frobnicate'");
  });

  it('an unknown option exits 2 and names it', async () => {
    const result = await runCli('meter-agent', ['status', '--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--frobnicate');
  });
});

describe('a bad config stops the agent at once, naming the key', () => {
  const cases: Array<{ what: string; config: () => unknown; names: string[] }> = [
    {
      what: 'xmpp.port "abc"',
      config: () => {
        const c = agentConfig();
        return { ...c, xmpp: { ...c.xmpp, port: 'abc' } };
      },
      names: ["'xmpp.port'"],
    },
    {
      what: 'an unknown key inside xmpp (a typo)',
      config: () => {
        const c = agentConfig();
        return { ...c, xmpp: { ...c.xmpp, pasword: 'x' } };
      },
      names: ['pasword'],
    },
    {
      what: 'an unknown top-level key',
      config: () => ({ ...agentConfig(), reconnectDelay: 5 }),
      names: ['reconnectDelay'],
    },
    {
      what: 'a meter id that is not one',
      config: () => agentConfig({ meterId: 'Meter One' }),
      names: ["'meterId'"],
    },
    {
      what: 'backoffMaxMs below backoffBaseMs',
      config: () => agentConfig({ reconnect: { backoffBaseMs: 1_000, backoffMaxMs: 500 } }),
      names: ["'reconnect.backoffMaxMs'"],
    },
  ];

  it.each(cases)('$what', async ({ config, names }) => {
    const value = config() as { dataDir: string };
    const file = writeConfig(value);
    const result = await runCli('meter-agent', ['run', '--config', file]);
    expect(result.code).toBe(2);
    for (const name of names) expect(result.stderr).toContain(name);
    expect(result.stderr).toContain(file); // the hint says where to fix it
    expect(messages(result.stdout, 'agent started')).toEqual([]);
    expect(existsSync(value.dataDir)).toBe(false);
  });

  it('a bad value from the environment is named by its config key', async () => {
    const result = await runCli('meter-agent', ['run', '--config', writeConfig(agentConfig())], {
      env: { GP_XMPP_PORT: 'abc' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("'xmpp.port'");
  });

  it('a missing file exits 2 and says it cannot be read', async () => {
    const file = join(dirs.make(), 'no-such-config.json');
    const result = await runCli('meter-agent', ['run', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot read config file ${file}`);
    expect(result.stderr).toContain('--config');
  });

  it('invalid JSON exits 2 and says so', async () => {
    const file = writeConfig('{ "meterId": "mtr-0001", ');
    const result = await runCli('meter-agent', ['run', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`config file ${file} is not valid JSON`);
  });
});

describe('a refused login', () => {
  it.each([
    { what: 'a wrong password', meterId: METER.id, password: 'not-the-password' },
    { what: 'an account that does not exist', meterId: 'mtr-0404', password: METER.password },
  ])('with $what exits 3 after one attempt, saying the login was refused', async (c) => {
    const config = agentConfig({ meterId: c.meterId });
    config.xmpp.password = c.password;
    const mark = prosodyLogMark(prosody);
    const result = await runCli('meter-agent', ['run', '--config', writeConfig(config)], {
      timeoutMs: 10_000,
    });
    expect(result.code, result.stdout + result.stderr).toBe(3);
    const [fatal, ...more] = logLines(result.stdout).filter((l) => l.code === 'GP_AUTH_FAILED');
    expect(more).toEqual([]);
    expect(fatal?.msg).toContain(`the server refused the login of ${c.meterId}@${prosody.domain}`);
    expect(fatal?.msg).toContain('not-authorized');
    expect(fatal?.hint).toContain('xmpp.password');
    expect(fatal?.msg).not.toContain(c.password);
    // No retry loop: the agent never scheduled a reconnect, and the server saw one connection.
    expect(messages(result.stdout, 'reconnecting after backoff')).toEqual([]);
    expect(countLines(mark.since(), 'Client connected')).toBe(1);
    expect(messages(result.stdout, 'stopped').map((l) => l.code)).toEqual([3]);
  });
});

describe('an unreachable server', () => {
  it('keeps retrying with growing jittered backoff and stops cleanly on SIGTERM', async () => {
    const config = agentConfig();
    config.xmpp.port = await closedPort();
    const file = writeConfig(config);
    const agent = startAgent(file);
    const retries = () => messages(agent.stdout, 'reconnecting after backoff');
    await waitFor('six reconnect attempts', () => retries().length >= 6, 20_000, 50);
    expect(agent.running).toBe(true);

    // The status report says offline, with the reconnects counted.
    const status = await runCli('meter-agent', ['status', '--config', file]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^connection\s+offline, [1-9]\d* reconnects$/m);

    const result = await agent.stop('SIGTERM');
    expect(result.code, result.stderr).toBe(0);
    expect(messages(result.stdout, 'stopped').map((l) => l.code)).toEqual([0]);
    expect(messages(result.stdout, 'agent started')).toHaveLength(1);

    const seen = retries();
    expect(seen.map((l) => l.attempt)).toEqual(seen.map((_, i) => i + 1));
    const delays = seen.map((l) => l.delayMs as number);
    for (const [i, delayMs] of delays.entries()) {
      const attempt = i + 1;
      const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** (attempt - 1));
      expect(delayMs, `attempt ${attempt}`).toBeGreaterThanOrEqual(
        minimumDelayMs(BACKOFF, attempt),
      );
      expect(delayMs, `attempt ${attempt}`).toBeLessThanOrEqual(ceiling);
    }
    // Growing: from the 4th attempt on the floor (400 ms) is above the 1st's ceiling (100 ms).
    expect(Math.min(...delays.slice(3))).toBeGreaterThan(delays[0] as number);
    // And it really waits: attempt n+1 comes no sooner than attempt n's floor (20 ms of slack
    // for log timestamps taken around the timer).
    for (let i = 1; i < seen.length; i += 1) {
      const gap = Date.parse(seen[i]?.time as string) - Date.parse(seen[i - 1]?.time as string);
      expect(gap, `gap before attempt ${i + 1}`).toBeGreaterThanOrEqual(
        minimumDelayMs(BACKOFF, i) - 20,
      );
    }
  });
});

describe('status and simulate against a running agent', () => {
  it('reports state, seq and connection; simulate changes the state or names a bad injection', async () => {
    const file = writeConfig(agentConfig());
    const agent = startAgent(file);
    const online = await waitFor(
      'the agent to be online',
      async () => {
        const report = await statusJson(file);
        return report.connected ? report : undefined;
      },
      15_000,
      200,
    );
    expect(online.status.state).toBe('available');
    const seq = online.status.seq;

    const text = await runCli('meter-agent', ['status', '--config', file]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`${METER.id}@${prosody.domain}/agent`);
    expect(text.stdout).toMatch(/^state\s+available$/m);
    expect(text.stdout).toMatch(new RegExp(`^seq\\s+${seq}\\s`, 'm'));
    expect(text.stdout).toMatch(/^connection\s+online, 0 reconnects$/m);

    const tamper = await runCli('meter-agent', ['simulate', 'tamper', '--config', file]);
    expect(tamper.code, tamper.stderr).toBe(0);
    expect(JSON.parse(tamper.stdout)).toMatchObject({
      status: { state: 'restricted', seq: seq + 1, reason: { code: 'tamper-suspected' } },
    });
    const after = await statusJson(file);
    expect(after.status).toMatchObject({
      state: 'restricted',
      seq: seq + 1,
      reason: { code: 'tamper-suspected' },
    });
    const afterText = await runCli('meter-agent', ['status', '--config', file]);
    expect(afterText.stdout).toMatch(/^state\s+restricted \(tamper-suspected: /m);

    const bogus = await runCli('meter-agent', ['simulate', 'bogus', '--config', file]);
    expect(bogus.code).not.toBe(0);
    expect(bogus.stderr).toContain("unknown injection 'bogus'");
    expect(bogus.stderr).toContain('tamper-clear'); // lists the known ones
    expect((await statusJson(file)).status).toMatchObject({ state: 'restricted', seq: seq + 1 });

    const nameless = await runCli('meter-agent', ['simulate', '--config', file]);
    expect(nameless.code).toBe(2);
    expect(nameless.stderr).toContain('simulate needs an injection name');

    // Once the agent has stopped, status says nobody is there.
    expect((await agent.stop('SIGTERM')).code).toBe(0);
    const gone = await runCli('meter-agent', ['status', '--config', file]);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain('no agent is running');
  });

  it('status with no agent ever started exits 4, saying no agent is running', async () => {
    const config = agentConfig();
    const result = await runCli('meter-agent', [
      'status',
      '--json',
      '--config',
      writeConfig(config),
    ]);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`no agent is running for ${config.dataDir}`);
    expect(result.stderr).toContain('meter-agent run --config');
  });
});
