import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import xml from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../meter-agent/config.js';
import { meterIdFor, type Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { apiFetch, getJson } from './helpers/api.js';
import { runCli } from './helpers/cli-process.js';
import { startTestStack } from './helpers/test-stack.js';
import { connectUser, type XmppUser } from './helpers/xmpp-user.js';

// PROTOCOL §7 end to end: real Prosody, 48 meters in one fleet process, two more as their own
// processes that are then frozen (SIGSTOP: connected, but silent), and the real service. One
// group command over all 50: the summary says 48 ok and names the two that timed out, through
// the chat door and through HTTP, with the per-meter results queryable. Then the refusals.

const METERS = 50;
const SILENT = ['mtr-0007', 'mtr-0031'];
const PER_METER_TIMEOUT_MS = 2_000;
const USERS = {
  viewer: { password: 'viewer-pass-1', role: 'viewer' },
  stranger: { password: 'stranger-pass-1' },
} as const;

let stack: Stack;
let operator: XmppUser;
let viewer: XmppUser;
let stranger: XmppUser;
let groupJid: (group: string) => string;

interface GroupView {
  name: string;
  total: number;
  states: Record<string, number>;
}

interface JobView {
  id: number;
  status: string;
  members: number;
  summary: { total: number; ok: number; timedOut: number; durationMs: number } | null;
  resultsTotal: number;
  results: Array<{
    meterId: string;
    outcome: string;
    fields: Record<string, string[]> | null;
    durationMs: number | null;
  }>;
}

beforeAll(async () => {
  const domain = 'grid.localhost';
  stack = await startTestStack(METERS, {
    service: {
      acl: [{ jid: `viewer@${domain}`, role: 'viewer' }],
      groups: { timeoutMs: PER_METER_TIMEOUT_MS },
    },
  });
  expect(stack.prosody.domain).toBe(domain);
  groupJid = (group) => `${group}@${stack.prosody.componentJid}`;
  await stack.prosody.createAccounts(
    Object.entries(USERS).map(([username, u]) => ({ username, password: u.password })),
  );

  // `meter-agent fleet` runs every <dataDir>/agents/*/config.json: the two meters that will go
  // silent move out, to run as processes of their own that can be frozen.
  const soloRoot = join(dirname(stack.serviceConfigFile), 'solo');
  mkdirSync(soloRoot, { recursive: true });
  for (const id of SILENT) {
    const handle = stack.agents.get(id);
    if (!handle) throw new Error(`no agent ${id}`);
    const dataDir = join(soloRoot, id);
    renameSync(handle.dataDir, dataDir);
    const configFile = join(dataDir, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as AgentConfig;
    writeFileSync(configFile, JSON.stringify({ ...config, dataDir }), { mode: 0o600 });
    stack.agents.set(id, { ...handle, configFile, dataDir });
  }
  stack.startFleet();
  for (const id of SILENT) stack.startAgent(id);
  await waitFor(
    `all ${METERS} meters available`,
    async () => {
      const group = await getJson<GroupView>(stack, `/api/groups/feeder-1`);
      return group.states.available === METERS ? group : undefined;
    },
    60_000,
    200,
  );
  // Connected and subscribed, but from now on they answer nothing.
  for (const id of SILENT) stack.agents.get(id)?.process?.signal('SIGSTOP');

  [operator, viewer, stranger] = await Promise.all([
    connectUser(stack, 'operator', stack.operator.password),
    connectUser(stack, 'viewer', USERS.viewer.password),
    connectUser(stack, 'stranger', USERS.stranger.password),
  ]);
  // Chat answers go to an available resource.
  await Promise.all([operator, viewer, stranger].map((u) => u.xmpp.send(xml('presence'))));
}, 120_000);

afterAll(async () => {
  for (const id of SILENT) stack?.agents.get(id)?.process?.signal('SIGCONT');
  await Promise.all([operator, viewer, stranger].map((u) => u?.stop()));
  await stack?.stop();
});

/** Sends a chat line to a group and returns the bodies of its first `count` answers. */
async function chat(user: XmppUser, group: string, body: string, count = 1): Promise<string[]> {
  const from = groupJid(group);
  const before = user.stanzas.length;
  await user.xmpp.send(xml('message', { to: from, type: 'chat' }, xml('body', {}, body)));
  const answers = await waitFor(
    `${count} answer(s) from ${from} to '${body}'`,
    () => {
      const found = user.stanzas
        .slice(before)
        .filter((s) => s.is('message') && s.attrs.from === from && s.getChild('body'));
      return found.length >= count ? found : undefined;
    },
    PER_METER_TIMEOUT_MS + 15_000,
  );
  for (const answer of answers) expect(answer.attrs.type).toBe('chat');
  return answers.map((a) => a.getChildText('body') ?? '');
}

async function postCommand(group: string, payload: unknown) {
  const res = await apiFetch(stack, `/api/groups/${group}/commands`, {
    method: 'POST',
    body: payload,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const waitForJob = (jobId: number) =>
  waitFor(
    `job ${jobId} to finish`,
    async () => {
      const job = await getJson<JobView>(stack, `/api/jobs/${jobId}?limit=100`);
      return job.status === 'done' ? job : undefined;
    },
    PER_METER_TIMEOUT_MS + 15_000,
    50,
  );

let lastJobId = 0;
const jobIdOf = (summary: string) => Number(/job (\d+)$/.exec(summary)?.[1]);

describe('a group command over 50 meters, two of them silent (PROTOCOL §7)', () => {
  it('by chat: one summary says 48 of 50 ok and names the two that timed out', async () => {
    const started = Date.now();
    const [running = '', summary = ''] = await chat(operator, 'feeder-1', 'read', 2);
    const elapsedMs = Date.now() - started;
    expect(running).toMatch(/^running read on 50 meters… \(job \d+\)$/);
    expect(summary).toMatch(
      /^48 of 50 ok; 2 timed out: mtr-0007, mtr-0031 \(\d+\.\d s\) — job \d+$/,
    );
    // the silent ones bound it: about one per-meter timeout, not 50 of them
    expect(elapsedMs).toBeGreaterThanOrEqual(PER_METER_TIMEOUT_MS);
    expect(elapsedMs).toBeLessThan(PER_METER_TIMEOUT_MS + 5_000);
    console.info(`[groups e2e] chat 'read' on 50 meters (2 silent): ${elapsedMs} ms — ${summary}`);
    lastJobId = jobIdOf(summary);
    const job = await getJson<JobView>(stack, `/api/jobs/${lastJobId}?outcome=timeout`);
    expect(job).toMatchObject({ status: 'done', members: 50, resultsTotal: 2 });
    expect(job.results.map((r) => r.meterId)).toEqual(SILENT);
  });

  it('by HTTP: 202 with the job, whose per-meter results are queryable', async () => {
    const started = Date.now();
    const { status, body } = await postCommand('feeder-1', {
      command: 'read',
      args: { registers: ['1-0:1.8.0', '1-0:32.7.0'] },
    });
    expect(status).toBe(202);
    expect(body.members).toBe(METERS);
    const jobId = body.jobId as number;
    expect(jobId).toBe(lastJobId + 1);
    lastJobId = jobId;
    const running = await getJson<JobView>(stack, `/api/jobs/${jobId}`);
    expect(running.members).toBe(METERS);

    const job = await waitForJob(jobId);
    console.info(
      `[groups e2e] HTTP 'read' on 50 meters (2 silent): ${Date.now() - started} ms to done, ` +
        `summary durationMs ${job.summary?.durationMs}`,
    );
    expect(job.summary).toMatchObject({ total: 50, ok: 48, timedOut: 2 });
    expect(job.resultsTotal).toBe(METERS);
    const byMeter = new Map(job.results.map((r) => [r.meterId, r]));
    for (const id of SILENT) {
      expect(byMeter.get(id)).toMatchObject({ outcome: 'timeout', fields: null });
    }
    const answered = byMeter.get('mtr-0001');
    expect(answered?.outcome).toBe('ok');
    expect(Object.keys(answered?.fields ?? {})).toEqual(['1-0:1.8.0', '1-0:32.7.0']);
    expect(answered?.fields?.['1-0:32.7.0']?.[0]).toMatch(/^\d+(\.\d+)?$/);
  });

  it('runs on a group made with the CLI, and is fast when every member answers', async () => {
    const healthy = Array.from({ length: METERS }, (_, i) => meterIdFor(i)).filter(
      (id) => !SILENT.includes(id),
    );
    const cli = await runCli('presence-service', [
      'groups',
      'add',
      'healthy',
      ...healthy,
      '--config',
      stack.serviceConfigFile,
    ]);
    expect(cli.stderr).toContain('added 48 meter(s) to healthy; it has 48');
    expect(cli.code).toBe(0);
    const started = Date.now();
    const [, summary = ''] = await chat(operator, 'healthy', 'read 1-0:1.8.0', 2);
    const elapsedMs = Date.now() - started;
    expect(summary).toMatch(/^48 of 48 ok \(\d+\.\d s\) — job \d+$/);
    console.info(`[groups e2e] chat 'read' on 48 answering meters: ${elapsedMs} ms — ${summary}`);
    expect(elapsedMs).toBeLessThan(PER_METER_TIMEOUT_MS);
    lastJobId = jobIdOf(summary);
  });
});

describe('refusals', () => {
  it('names an unknown group (chat and HTTP)', async () => {
    expect(await chat(operator, 'feeder-9', 'read')).toEqual([
      "No group 'feeder-9' here: no meter is in it.",
    ]);
    const { status, body } = await postCommand('feeder-9', { command: 'read' });
    expect(status).toBe(404);
    expect(body).toEqual({
      error: { code: 'group-unknown', message: "no group 'feeder-9': no meter is in it" },
    });
  });

  it('refuses a viewer and a stranger a relay group command, and runs nothing', async () => {
    expect(await chat(viewer, 'feeder-1', 'relay open confirm')).toEqual([
      'Refused (forbidden): relay needs the operator role',
    ]);
    expect(await chat(stranger, 'feeder-1', 'relay open confirm')).toEqual([
      'Refused (forbidden): not authorised to command groups here',
    ]);
    // no job was made, and the meters kept their relays closed
    const next = await apiFetch(stack, `/api/jobs/${lastJobId + 1}`);
    expect(next.status).toBe(404);
    const group = await getJson<GroupView>(stack, `/api/groups/feeder-1`);
    expect(group.states).toMatchObject({ available: METERS, restricted: 0 });
  });

  it('answers a viewer’s status from the registry, and garbage with a hint', async () => {
    expect(await chat(viewer, 'feeder-1', 'status')).toEqual([
      'feeder-1: 50 meters — 50 available',
    ]);
    expect(await chat(operator, 'feeder-1', 'open sesame')).toEqual([
      "Unknown command. Send 'help' for the list.",
    ]);
  });
});
