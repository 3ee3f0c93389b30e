import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningProsody, startProsody } from '../../src/harness/index.js';
import { silentLogger } from '../../src/log.js';
import { NS_METER } from '../../src/protocol/index.js';
import { waitFor } from '../../src/stack/wait.js';
import { createClient } from '../../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../../src/xmpp/workarounds/await-stream-management.js';
import { logLines, tempDirs } from './helpers/cli-process.js';

// The field install (issue 7): `npm run build:agent` makes the agent one file and a tarball.
// The file is copied alone into a directory with no node_modules anywhere above it, as on a
// device, and run with `node` against a real Prosody; the tarball's install.sh installs into a
// temporary root.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
const BUILT_BUNDLE = join(ROOT, 'build', 'agent', 'meter-agent.mjs');
const TARBALL = join(ROOT, 'build', 'agent', `gridpresence-meter-agent-${VERSION}.tar.gz`);
const METER = { username: 'mtr-0001', password: 'meter-pass-0001' };
const OPERATOR = { username: 'operator', password: 'operator-pass' };

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; a failure exit is a result, not an error. */
function run(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: deviceEnv(options.env), timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/**
 * The environment of a device: none of our variables, and nothing that would let Node find
 * modules outside the bundle (NODE_PATH) or change how it starts (NODE_OPTIONS).
 */
function deviceEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('GP_') || key.startsWith('npm_') || key === 'LOG_LEVEL') continue;
    if (key === 'NODE_PATH' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  // `node` as the #! line finds it, whichever Node runs the tests.
  env.PATH = `${dirname(process.execPath)}:${env.PATH ?? '/usr/bin:/bin'}`;
  return { ...env, ...extra };
}

/** Every directory from `dir` up to / that has a node_modules. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules'))) found.push(at);
    if (dirname(at) === at) return found;
  }
}

let prosody: RunningProsody;
const dirs = tempDirs('gp-agent-bundle-');
const agents = new Set<RunningAgent>();

beforeAll(async () => {
  const build = await run(process.execPath, [join(ROOT, 'scripts', 'build-agent.mjs')], {
    cwd: ROOT,
  });
  expect(build.code, build.stdout + build.stderr).toBe(0);
  expect(build.stdout).toMatch(/bundle .*meter-agent\.mjs +\d+ KiB/);
  expect(build.stdout).toMatch(/tarball .*\.tar\.gz +\d+ KiB/);
  prosody = await startProsody();
  await prosody.createAccounts([METER, OPERATOR]);
}, 90_000);

afterAll(async () => {
  for (const agent of agents) agent.kill('SIGKILL');
  await Promise.all([...agents].map((agent) => agent.exited));
  await prosody?.stop();
  dirs.removeAll();
});

describe('the single-file agent, alone in a directory', () => {
  let fieldDir: string;
  let bundle: string;

  beforeAll(() => {
    fieldDir = dirs.make();
    expect(nodeModulesAbove(fieldDir)).toEqual([]);
    bundle = join(fieldDir, 'meter-agent.mjs');
    copyFileSync(BUILT_BUNDLE, bundle);
    chmodSync(bundle, 0o755);
    expect(readdirSync(fieldDir)).toEqual(['meter-agent.mjs']);
  });

  it('--help and --version work, also run through its #! line', async () => {
    const help = await run(process.execPath, [bundle, '--help'], { cwd: fieldDir });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: meter-agent <command>/);
    const version = await run(bundle, ['--version'], { cwd: fieldDir });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toBe(`${VERSION}\n`);
  });

  it('logs in, reports available, is seen online by an operator, and stops cleanly', async () => {
    const passwordFile = join(fieldDir, 'password');
    writeFileSync(passwordFile, `${METER.password}\n`, { mode: 0o640 });
    const configFile = join(fieldDir, 'meter-agent.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        meterId: METER.username,
        domain: prosody.domain,
        xmpp: {
          host: prosody.host,
          port: prosody.directTlsPort,
          passwordFile,
          caFile: prosody.caFile,
        },
        acl: [{ jid: `${OPERATOR.username}@${prosody.domain}`, role: 'viewer' }],
        dataDir: join(fieldDir, 'data'),
        reconnect: { backoffBaseMs: 100, backoffMaxMs: 800 },
        meter: { eventRatePerHour: 0 },
      }),
    );

    const agent = startAgent(bundle, configFile, fieldDir);
    let operator: Client | undefined;
    try {
      const status = await waitFor(
        'the bundled agent to report itself online',
        async () => {
          if (agent.exitCode !== null) throw new Error(`the agent exited: ${agent.output()}`);
          const args = [bundle, 'status', '--json', '--config', configFile];
          const result = await run(process.execPath, args, { cwd: fieldDir });
          if (result.code !== 0) return undefined;
          const report = JSON.parse(result.stdout) as {
            connected: boolean;
            status: { state: string };
          };
          return report.connected ? report : undefined;
        },
        20_000,
        200,
      );
      expect(status.status.state).toBe('available');

      // What the server passes on: the operator subscribes, the meter approves, and its presence
      // arrives with the meter extension (PROTOCOL §1).
      operator = await loginOperator();
      const stanzas: Element[] = [];
      operator.on('stanza', (stanza: Element) => stanzas.push(stanza));
      await operator.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
      await operator.send(xml('presence'));
      await operator.send(
        xml('presence', { to: `${METER.username}@${prosody.domain}`, type: 'subscribe' }),
      );
      const presence = await waitFor(
        "the meter's presence at the operator",
        () =>
          stanzas.find(
            (s) =>
              s.is('presence') &&
              s.attrs.type === undefined &&
              s.attrs.from === `${METER.username}@${prosody.domain}/agent`,
          ),
        10_000,
      );
      expect(presence.getChild('meter', NS_METER)?.attrs.state).toBe('available');
    } finally {
      await operator?.stop().catch(() => {});
      agent.kill('SIGTERM');
    }
    const code = await agent.exited;
    expect(code, agent.output()).toBe(0);
    const messages = logLines(agent.stdout()).map((line) => line.msg);
    expect(messages).toContain('agent started');
    expect(agent.stderr()).toBe('');
  });
});

describe('the tarball and install.sh', () => {
  let unpacked: string;
  const expectedFiles = [
    'README.md',
    'config.example.json',
    'gridpresence-meter-agent.service',
    'install.sh',
    'meter-agent.mjs',
    'openwrt-init',
  ];

  beforeAll(async () => {
    const dir = dirs.make();
    const untar = await run('tar', ['-xzf', TARBALL, '-C', dir]);
    expect(untar.code, untar.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual([`gridpresence-meter-agent-${VERSION}`]);
    unpacked = join(dir, `gridpresence-meter-agent-${VERSION}`);
  });

  it('holds the bundle, config example, units and install script, no source map', () => {
    expect(readdirSync(unpacked).sort()).toEqual(expectedFiles);
    const same = readFileSync(join(unpacked, 'meter-agent.mjs')).equals(readFileSync(BUILT_BUNDLE));
    expect(same, 'the packed bundle is the built one').toBe(true);
    for (const executable of ['install.sh', 'meter-agent.mjs', 'openwrt-init']) {
      expect(statSync(join(unpacked, executable)).mode & 0o777, executable).toBe(0o755);
    }
    expect(readFileSync(join(unpacked, 'meter-agent.mjs'), 'utf8')).toMatch(
      /^#!\/usr\/bin\/env node\n/,
    );
  });

  it('its shell scripts parse, and install.sh answers --help and refuses unknown options', async () => {
    for (const script of ['install.sh', 'openwrt-init']) {
      const check = await run('sh', ['-n', join(unpacked, script)]);
      expect(check.code, `${script}: ${check.stderr}`).toBe(0);
    }
    const help = await run('sh', [join(unpacked, 'install.sh'), '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: install\.sh \[--prefix DIR\]/);
    const bogus = await run('sh', [join(unpacked, 'install.sh'), '--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain("unknown option '--bogus'");
  });

  it('installs into --prefix without systemctl, and never overwrites the config', async () => {
    const target = join(dirs.make(), 'root');
    // A systemctl that records being called: --prefix must not call it.
    const fakeBin = dirs.make();
    const calls = join(fakeBin, 'systemctl-calls');
    writeFileSync(join(fakeBin, 'systemctl'), `#!/bin/sh\necho "$@" >> '${calls}'\n`, {
      mode: 0o755,
    });
    const env = { PATH: `${fakeBin}:${deviceEnv().PATH}` };

    const first = await run('sh', [join(unpacked, 'install.sh'), '--prefix', target], { env });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(existsSync(calls)).toBe(false);

    const installed = join(target, 'opt', 'gridpresence', 'meter-agent', 'meter-agent.mjs');
    const config = join(target, 'etc', 'gridpresence', 'meter-agent.json');
    const password = join(target, 'etc', 'gridpresence', 'meter-agent.password');
    const unit = join(target, 'etc', 'systemd', 'system', 'gridpresence-meter-agent.service');
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(statSync(config).mode & 0o777).toBe(0o640);
    expect(statSync(password).mode & 0o777).toBe(0o640);
    expect(readFileSync(password, 'utf8')).toBe('');
    expect(readFileSync(config, 'utf8')).toBe(
      readFileSync(join(unpacked, 'config.example.json'), 'utf8'),
    );
    expect(readFileSync(unit, 'utf8')).toContain('ExecStart=/usr/bin/env node ');

    // The installed program runs, and the example config is valid for it: `status` gets as far
    // as looking for the running agent (exit 4), with the password from the environment.
    const version = await run(process.execPath, [installed, '--version'], { cwd: target });
    expect(version.stdout).toBe(`${VERSION}\n`);
    const status = await run(process.execPath, [installed, 'status', '--config', config], {
      cwd: target,
      env: { GP_XMPP_PASSWORD: 'x', GP_DATA_DIR: join(target, 'data') },
    });
    expect(status.code, status.stderr).toBe(4);
    expect(status.stderr).toContain('no agent is running');

    // Run again (an upgrade): the edited config and the password stay as they are.
    writeFileSync(config, '{ "edited": true }\n');
    writeFileSync(password, 'secret\n');
    mkdirSync(join(target, 'marker'));
    const second = await run('sh', [join(unpacked, 'install.sh'), `--prefix=${target}`], { env });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain('kept the existing');
    expect(readFileSync(config, 'utf8')).toBe('{ "edited": true }\n');
    expect(readFileSync(password, 'utf8')).toBe('secret\n');
    expect(existsSync(calls)).toBe(false);
  });
});

interface RunningAgent {
  readonly exitCode: number | null;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  stdout(): string;
  stderr(): string;
  output(): string;
}

function startAgent(bundle: string, configFile: string, cwd: string): RunningAgent {
  const child: ChildProcess = spawn(process.execPath, [bundle, 'run', '--config', configFile], {
    cwd,
    env: deviceEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  const agent: RunningAgent = {
    get exitCode() {
      return child.exitCode;
    },
    exited,
    kill: (signal) => {
      if (child.exitCode === null) child.kill(signal);
    },
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => `stdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`,
  };
  agents.add(agent);
  return agent;
}

async function loginOperator(): Promise<Client> {
  const xmpp = await createClient({
    service: `xmpps://${prosody.host}:${prosody.directTlsPort}`,
    domain: prosody.domain,
    username: OPERATOR.username,
    password: OPERATOR.password,
    resource: 'test',
    caPem: readFileSync(prosody.caFile, 'utf8'),
    logger: silentLogger(),
  });
  xmpp.on('error', () => {});
  await xmpp.start();
  await awaitStreamManagement(xmpp);
  return xmpp;
}
