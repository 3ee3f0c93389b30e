import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { parseCsv } from '../../presence-service/cli/csv.js';
import type { serviceConfigSchema } from '../../presence-service/config.js';
import { type RunningProsody, startProsody } from '../../src/harness/index.js';
import { waitFor } from '../../src/stack/wait.js';
import { type CliProcess, logLines, runCli, startCli, tempDirs } from './helpers/cli-process.js';
import { countLines, prosodyLogMark, tryLogin } from './helpers/xmpp-login.js';

// The `presence-service` command line, end to end: the built program as a real process, creating
// and deleting real accounts on a real Prosody through the prosodyctl provisioner, and the
// service refusing bad configs and a wrong component secret.

let prosody: RunningProsody;
let configFile: string;
const dirs = tempDirs('gp-cli-meters-');
const services = new Set<CliProcess>();

beforeAll(async () => {
  prosody = await startProsody();
  configFile = writeServiceConfig(serviceConfig());
});

afterEach(async () => {
  await Promise.all([...services].map((service) => service.stop()));
  services.clear();
});

afterAll(async () => {
  await prosody?.stop();
  dirs.removeAll();
});

type ServiceInput = z.input<typeof serviceConfigSchema>;

/** A valid config for the harness Prosody; `database` defaults to a fresh temp dir. */
function serviceConfig(overrides: Partial<ServiceInput> = {}): ServiceInput {
  return {
    domain: prosody.domain,
    component: {
      host: prosody.host,
      port: prosody.componentPort,
      secret: prosody.componentSecret,
      reconnect: { backoffBaseMs: 100, backoffMaxMs: 800 },
    },
    database: { path: join(dirs.make(), 'presence.db') },
    http: { host: '127.0.0.1', port: 0 },
    provisioning: { kind: 'prosodyctl', prosodyConfig: prosody.configFile },
    recovery: { queryConcurrency: 64, queryTimeoutMs: 2_000 },
    acl: [],
    groups: { concurrency: 64, timeoutMs: 10_000, maxRunningJobs: 8, retainJobs: 1000 },
    demandResponse: { rules: [], evaluateEveryS: 5 },
    log: { level: 'info' },
    ...overrides,
  };
}

function writeServiceConfig(config: unknown): string {
  const file = join(dirs.make(), 'service.json');
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}

const meters = (args: string[], timeoutMs?: number) =>
  runCli('presence-service', ['meters', ...args, '--config', configFile], { timeoutMs });

interface ListedMeter {
  id: string;
  jid: string;
  groups: string[];
  state: string;
}

async function listMeters(...args: string[]): Promise<ListedMeter[]> {
  const result = await meters(['list', '--json', ...args]);
  expect(result.code, result.stderr).toBe(0);
  const { total, meters: listed } = JSON.parse(result.stdout) as {
    total: number;
    meters: ListedMeter[];
  };
  expect(listed).toHaveLength(total);
  return listed;
}

const notAuthorized = { ok: false, name: 'SASLError', condition: 'not-authorized' };

describe('meters add, list and remove', () => {
  it('creates an account that logs in, refuses a second add, and deletes it again', async () => {
    const id = 'mtr-9001';
    const added = await meters(['add', id, '--group', 'feeder-7']);
    expect(added.code, added.stderr).toBe(0);
    const created = JSON.parse(added.stdout) as { id: string; jid: string; password: string };
    expect(created).toMatchObject({ id, jid: `${id}@${prosody.domain}` });
    expect(created.password.length).toBeGreaterThanOrEqual(16);
    expect(await tryLogin(prosody, id, created.password)).toMatchObject({
      ok: true,
      jid: `${id}@${prosody.domain}/login-check`,
    });

    const listed = (await listMeters()).find((m) => m.id === id);
    expect(listed).toMatchObject({ jid: `${id}@${prosody.domain}`, groups: ['feeder-7'] });
    expect((await listMeters('--group', 'feeder-7')).map((m) => m.id)).toContain(id);
    expect((await listMeters('--group', 'feeder-8')).map((m) => m.id)).not.toContain(id);

    // Adding it again fails and leaves the account alone, even with a new password on offer.
    for (const extra of [[], ['--password', 'another-password-1']]) {
      const again = await meters(['add', id, '--group', 'feeder-7', ...extra]);
      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(again.stderr).toContain(`meter '${id}' already exists`);
    }
    expect((await tryLogin(prosody, id, created.password)).ok).toBe(true);
    expect(await tryLogin(prosody, id, 'another-password-1')).toMatchObject(notAuthorized);

    const removed = await meters(['remove', id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toContain(`removed ${id}`);
    expect(await tryLogin(prosody, id, created.password)).toMatchObject(notAuthorized);
    expect((await listMeters()).map((m) => m.id)).not.toContain(id);

    const removedAgain = await meters(['remove', id]);
    expect(removedAgain.code).toBe(1);
    expect(removedAgain.stderr).toContain(`meter '${id}' is not registered`);
  });
});

describe('meters import', () => {
  it('imports 2,000 meters, writes the generated passwords 0600, and every kind logs in', async () => {
    const dir = dirs.make();
    const csvFile = join(dir, 'meters.csv');
    const credsFile = join(dir, 'creds.csv');
    const count = 2_000;
    const rows = Array.from({ length: count }, (_, i) => ({
      id: `imp-${String(i).padStart(4, '0')}`,
      // Half with a password of their own, half to be generated.
      password: i % 2 === 0 ? `given-pass-${i}-${Math.random().toString(36).slice(2)}` : '',
      groups: `feeder-${i % 10};bulk`,
    }));
    writeFileSync(
      csvFile,
      [
        'id,password,kind,groups',
        ...rows.map((r) => `${r.id},${r.password},revenue-meter,${r.groups}`),
      ].join('\n'),
    );

    const startedAt = Date.now();
    const result = await meters(['import', csvFile, '--credentials-out', credsFile], 45_000);
    const tookMs = Date.now() - startedAt;
    console.info(`meters import of ${count} rows took ${tookMs} ms`);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ imported: count, skipped: 0 });
    const progress = result.stderr.split('\n').filter((l) => l.startsWith('imported '));
    expect(progress).toEqual([
      'imported 500/2000',
      'imported 1000/2000',
      'imported 1500/2000',
      'imported 2000/2000',
    ]);
    expect(result.stderr).toContain(`wrote 1000 generated password(s) to ${credsFile}`);

    expect(statSync(credsFile).mode & 0o777).toBe(0o600);
    const [header, ...credentials] = parseCsv(readFileSync(credsFile, 'utf8')).map((r) => r.fields);
    expect(header).toEqual(['id', 'jid', 'password']);
    const generated = rows.filter((r) => r.password === '');
    expect(credentials.map(([id]) => id)).toEqual(generated.map((r) => r.id));
    for (const [id, jid, password] of credentials) {
      expect(jid).toBe(`${id}@${prosody.domain}`);
      expect(password?.length).toBeGreaterThanOrEqual(16);
    }
    expect(new Set(credentials.map(([, , password]) => password)).size).toBe(generated.length);

    // A sample from the start, middle and end, with given and with generated passwords.
    const given = rows.filter((r) => r.password !== '');
    const sample = [0, 1, 500, 999].flatMap((i) => [
      { id: given[i]?.id as string, password: given[i]?.password as string },
      { id: credentials[i]?.[0] as string, password: credentials[i]?.[2] as string },
    ]);
    for (const { id, password } of sample) {
      expect(await tryLogin(prosody, id, password), id).toMatchObject({ ok: true });
    }
    expect(await tryLogin(prosody, 'imp-0000', 'not-its-password')).toMatchObject(notAuthorized);

    // The whole list is far beyond a pipe's 64 KiB: all of it must arrive, as valid JSON.
    const all = await listMeters();
    expect(all.filter((m) => m.id.startsWith('imp-'))).toHaveLength(count);
    const feeder3 = await listMeters('--group', 'feeder-3');
    expect(feeder3).toHaveLength(count / 10);
    expect(feeder3.every((m) => m.groups.includes('bulk'))).toBe(true);

    // Running the same import again skips every meter and resets no password.
    const again = await meters(['import', csvFile], 45_000);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ imported: 0, skipped: count });
    expect(again.stderr).toContain(`skipping ${count} meter(s) that already exist`);
    const [first] = sample;
    expect(await tryLogin(prosody, first?.id as string, first?.password as string)).toMatchObject({
      ok: true,
    });
  });

  it('refuses a file with bad rows, listing each by line, and imports nothing', async () => {
    const dir = dirs.make();
    const csvFile = join(dir, 'bad.csv');
    const credsFile = join(dir, 'creds.csv');
    writeFileSync(
      csvFile,
      [
        'id,password,groups', // line 1
        'bad-0001,good-password-1,feeder-1', // line 2: fine
        'Bad_Id!,,feeder-1', // line 3: not a meter id
        'bad-0002,,feeder-2', // line 4: fine
        'bad-0001,,feeder-3', // line 5: duplicate of line 2
        'bad-0003,,feeder-1,extra', // line 6: one field too many
        'bad-0004,good-password-4,feeder-4', // line 7: fine
        '',
      ].join('\n'),
    );
    const result = await meters(['import', csvFile, '--credentials-out', credsFile]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${csvFile}: 3 problem(s); nothing was imported`);
    const reported = result.stderr
      .split('\n')
      .filter((l) => /^ {2}line \d+:/.test(l))
      .map((l) => l.trim());
    expect(reported).toHaveLength(3);
    expect(reported[0]).toMatch(/^line 3: id: /);
    expect(reported[1]).toBe("line 5: id 'bad-0001' already appears on line 2");
    expect(reported[2]).toMatch(/^line 6: expected 3 fields like the header, found 4/);

    const ids = (await listMeters()).map((m) => m.id);
    for (const id of ['bad-0001', 'bad-0002', 'bad-0003', 'bad-0004']) {
      expect(ids).not.toContain(id);
    }
    expect(existsSync(credsFile)).toBe(false);
    // Not even the good rows got an account.
    expect(await tryLogin(prosody, 'bad-0001', 'good-password-1')).toMatchObject(notAuthorized);
    expect(await tryLogin(prosody, 'bad-0004', 'good-password-4')).toMatchObject(notAuthorized);
  });

  it('refuses a file with an unknown column, naming it', async () => {
    const csvFile = join(dirs.make(), 'columns.csv');
    writeFileSync(csvFile, 'id,serial\ncol-0001,12345\n');
    const result = await meters(['import', csvFile]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("line 1: unknown column 'serial'");
    expect((await listMeters()).map((m) => m.id)).not.toContain('col-0001');
  });
});

describe('presence-service run', () => {
  const badConfigs: Array<{ what: string; component: Record<string, unknown>; key: string }> = [
    { what: 'component.port 0', component: { port: 0 }, key: 'component.port' },
    { what: 'component.port "abc"', component: { port: 'abc' }, key: 'component.port' },
    { what: 'a public component.host', component: { host: '8.8.8.8' }, key: 'component.host' },
    { what: 'a short component.secret', component: { secret: 'short' }, key: 'component.secret' },
  ];

  it.each(badConfigs)('exits 2 naming the key for $what', async ({ component, key }) => {
    const config = serviceConfig();
    const file = writeServiceConfig({
      ...config,
      component: { ...config.component, ...component },
    });
    const result = await runCli('presence-service', ['run', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`config key '${key}'`);
    expect(result.stderr).toContain(`fix '${key}' in ${file}`);
    expect(logLines(result.stdout)).toEqual([]); // nothing started
    expect(existsSync(config.database?.path ?? 'missing')).toBe(false);
  });

  it('explains why a public component host is refused', async () => {
    const config = serviceConfig();
    const file = writeServiceConfig({
      ...config,
      component: { ...config.component, host: '8.8.8.8' },
    });
    const result = await runCli('presence-service', ['run', '--config', file]);
    expect(result.stderr).toContain('must be a loopback or private address');
  });

  it('exits 3 on a wrong component secret after one attempt, saying what to check', async () => {
    const config = serviceConfig();
    const wrongSecret = 'not-the-component-secret';
    const file = writeServiceConfig({
      ...config,
      component: { ...config.component, secret: wrongSecret },
    });
    const mark = prosodyLogMark(prosody);
    const result = await runCli('presence-service', ['run', '--config', file], {
      timeoutMs: 15_000,
    });
    expect(result.code, result.stdout + result.stderr).toBe(3);
    const fatal = logLines(result.stdout).filter((l) => l.code === 'GP_AUTH_FAILED');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.msg).toContain(
      `the XMPP server refused component ${prosody.componentJid}: not-authorized`,
    );
    expect(fatal[0]?.hint).toContain('component.secret');
    const output = result.stdout + result.stderr;
    expect(output).not.toContain(wrongSecret);
    expect(output).not.toContain(prosody.componentSecret);
    expect(logLines(result.stdout).filter((l) => l.msg === 'reconnecting after backoff')).toEqual(
      [],
    );
    expect(countLines(mark.since(), 'Incoming Jabber component connection')).toBe(1);
  });

  it('with the right secret comes online, and stops cleanly on SIGTERM', async () => {
    const service = startCli('presence-service', ['run', '--config', configFile]);
    services.add(service);
    await waitFor(
      'the component to come online',
      () => logLines(service.stdout).some((l) => l.msg === 'component online'),
      15_000,
      50,
    );
    const result = await service.stop('SIGTERM');
    expect(result.code, result.stderr).toBe(0);
  });
});
