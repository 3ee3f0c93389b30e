import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import xml, { type Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../meter-agent/config.js';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import type { AuditEntry } from '../../meter-agent/security/audit-entry.js';
import {
  buildCommandRequest,
  NS_COMMANDS,
  NS_DISCO_ITEMS,
  parseCommandResponse,
} from '../../src/protocol/index.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { waitForRecordedState } from './helpers/api.js';
import { type LogLine, logLines, runCli } from './helpers/cli-process.js';
import { startTestStack } from './helpers/test-stack.js';
import { connectUser, type XmppUser } from './helpers/xmpp-user.js';

// The `log-level` extension (docs/protocol.md) end to end: a real Prosody, a real agent process
// whose stdout goes to its log file. An admin's ad-hoc command makes debug lines appear (from
// loggers made long before the change), an operator is refused with auth/forbidden, a bad
// level is modify/bad-request naming the field, and `meter-agent log-level` does the same
// through the control socket.

const METER = 'mtr-0001';
const ADMIN = { username: 'root', password: 'root-pass-1' };
const NODE = 'urn:gridpresence:cmd:log-level';
const DEBUG = 20;

let stack: Stack;
let admin: XmppUser;
let operator: XmppUser;
let meterJid: string;

const agent = () => {
  const handle = stack.agents.get(METER);
  if (!handle?.process) throw new Error('the agent is not running');
  return { ...handle, process: handle.process };
};
const logOf = (): LogLine[] => logLines(readFileSync(agent().process.logFile, 'utf8'));

beforeAll(async () => {
  stack = await startTestStack(1);
  const domain = stack.prosody.domain;
  meterJid = `${METER}@${domain}/agent`;
  await stack.prosody.createAccounts([ADMIN]);
  const configFile = stack.agents.get(METER)?.configFile as string;
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as AgentConfig;
  config.acl.push({ jid: `${ADMIN.username}@${domain}`, role: 'admin' });
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  stack.startAgent(METER);
  await waitForRecordedState(stack, METER, 'available');
  [admin, operator] = await Promise.all([
    connectUser(stack, ADMIN.username, ADMIN.password),
    connectUser(stack, 'operator', stack.operator.password),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([admin, operator].map((u) => u?.stop()));
  await stack?.stop();
});

type Answer =
  | { ok: true; status: string; fields: Record<string, string[]> }
  | { ok: false; type: string; condition: string; text: string };

async function logLevel(user: XmppUser, form: Record<string, string[]>): Promise<Answer> {
  try {
    const answer = await user.xmpp.iqCaller.request(
      xml('iq', { type: 'set', to: meterJid }, buildCommandRequest({ node: NODE, form })),
    );
    const parsed = parseCommandResponse(answer.getChild('command', NS_COMMANDS));
    if (!parsed.ok) throw new Error(parsed.error);
    const fields = Object.fromEntries(
      (parsed.value.form?.fields ?? []).map((f) => [f.var, [f.value ?? []].flat()]),
    );
    return { ok: true, status: parsed.value.status, fields };
  } catch (error) {
    const e = error as { condition?: string; type?: string; text?: string };
    if (!e.condition) throw error;
    return { ok: false, type: String(e.type), condition: e.condition, text: e.text ?? '' };
  }
}

async function commandNodes(user: XmppUser): Promise<string[]> {
  const answer: Element = await user.xmpp.iqCaller.request(
    xml(
      'iq',
      { type: 'get', to: meterJid },
      xml('query', { xmlns: NS_DISCO_ITEMS, node: NS_COMMANDS }),
    ),
  );
  return (answer.getChild('query')?.getChildren('item') ?? []).map((i) => String(i.attrs.node));
}

describe('the log-level command (admin)', () => {
  it('is listed for an admin only', async () => {
    expect(await commandNodes(admin)).toContain(NODE);
    expect(await commandNodes(operator)).not.toContain(NODE);
  });

  it('an admin switches the running agent to debug, and debug lines appear', async () => {
    const before = logOf().length;
    expect(logOf().some((l) => l.level === DEBUG)).toBe(false);
    const answer = await logLevel(admin, { level: ['debug'], minutes: ['5'] });
    expect(answer).toMatchObject({ ok: true, status: 'completed' });
    if (!answer.ok) return;
    expect(answer.fields.level).toEqual(['debug']);
    expect(answer.fields.configured).toEqual(['info']);
    expect(answer.fields['reverts-at']?.[0]).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    // A presence change: the announcer's logger was made at start, before the change.
    await controlRequest(agent().dataDir, { op: 'maintenance', enable: true, note: 'log test' });
    const lines = await waitFor(
      'debug lines in the agent log',
      () => {
        const fresh = logOf().slice(before);
        return fresh.some((l) => l.level === DEBUG && l.msg === 'presence sent')
          ? fresh
          : undefined;
      },
      10_000,
    );
    expect(lines.find((l) => l.msg === 'log level changed')).toMatchObject({
      module: 'log-level',
      logLevel: 'debug',
      before: 'info',
      by: `${ADMIN.username}@${stack.prosody.domain}/test`,
    });
    expect(lines.find((l) => l.msg === 'presence sent')).toMatchObject({ module: 'presence' });
    await controlRequest(agent().dataDir, { op: 'maintenance', enable: false });
  });

  it('an operator is refused with auth/forbidden', async () => {
    expect(await logLevel(operator, { level: ['debug'] })).toEqual({
      ok: false,
      type: 'auth',
      condition: 'forbidden',
      text: 'log-level needs the admin role',
    });
  });

  it('a bad level or minutes is modify/bad-request naming the field', async () => {
    const badLevel = await logLevel(admin, { level: ['verbose'] });
    expect(badLevel).toMatchObject({ ok: false, type: 'modify', condition: 'bad-request' });
    if (!badLevel.ok) expect(badLevel.text).toMatch(/^level: 'verbose' is not a level/);
    const badMinutes = await logLevel(admin, { level: ['debug'], minutes: ['soon'] });
    expect(badMinutes).toMatchObject({ ok: false, type: 'modify', condition: 'bad-request' });
    if (!badMinutes.ok) expect(badMinutes.text).toMatch(/^minutes: /);
  });

  it('audits every outcome', () => {
    const trail = readFileSync(join(agent().dataDir, 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditEntry)
      .filter((e) => e.command === 'log-level');
    expect(trail.map((e) => [e.from.split('/')[0]?.split('@')[0], e.outcome, e.condition])).toEqual(
      [
        ['root', 'ok', undefined],
        ['operator', 'refused', 'forbidden'],
        ['root', 'refused', 'bad-request'],
        ['root', 'refused', 'bad-request'],
      ],
    );
  });
});

describe('meter-agent log-level (control socket)', () => {
  it('sets the level of the running agent; debug lines stop', async () => {
    const configFile = agent().configFile;
    const result = await runCli('meter-agent', ['log-level', 'info', '--config', configFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('log level info\n');
    const status = await runCli('meter-agent', ['status', '--json', '--config', configFile]);
    expect(JSON.parse(status.stdout).logLevel).toEqual({
      level: 'info',
      configured: 'info',
      revertsAt: null,
    });
    const before = logOf().length;
    await controlRequest(agent().dataDir, { op: 'maintenance', enable: true, note: 'quiet' });
    await waitForRecordedState(stack, METER, 'unavailable');
    await controlRequest(agent().dataDir, { op: 'maintenance', enable: false });
    await waitForRecordedState(stack, METER, 'available');
    const fresh = logOf().slice(before);
    expect(fresh.some((l) => l.msg === 'state changed')).toBe(true);
    expect(fresh.filter((l) => l.level === DEBUG)).toEqual([]);

    const temporary = await runCli('meter-agent', [
      'log-level',
      'trace',
      '--minutes',
      '2',
      '--config',
      configFile,
    ]);
    expect(temporary.code, temporary.stderr).toBe(0);
    expect(temporary.stdout).toMatch(/^log level trace until \S+Z, then info\n$/);
  });

  it('refuses a bad level or --minutes with a usage error', async () => {
    const configFile = agent().configFile;
    const bad = await runCli('meter-agent', ['log-level', 'verbose', '--config', configFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('log-level takes one of fatal, error, warn, info, debug, trace');
    const minutes = await runCli('meter-agent', [
      'log-level',
      'debug',
      '--minutes',
      'x',
      '--config',
      configFile,
    ]);
    expect(minutes.code).toBe(2);
    expect(minutes.stderr).toContain('--minutes');
  });
});
