#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { exitWhenFlushed, reportCliError, usageError } from '../src/cli/report-error.js';
import { runUntilSignal } from '../src/cli/run-until-signal.js';
import { EXIT } from '../src/errors.js';
import { createRootLogger } from '../src/log.js';
import { createTokenStore } from './auth/token-store.js';
import { createUserStore } from './auth/user-store.js';
import { type GroupsCommandDeps, runGroupsCommand } from './cli/groups-command.js';
import { type MetersCommandDeps, runMetersCommand } from './cli/meters-command.js';
import { runUsersCommand, type UsersCommandDeps } from './cli/users-command.js';
import { loadServiceConfig, type ServiceConfig } from './config.js';
import { startService } from './main.js';
import { type AccountProvisioner, createProvisioner } from './provisioning/account-provisioner.js';
import { openDatabase } from './store/database.js';
import { createGroupDirectory } from './store/group-directory.js';
import { createMeterRegistry } from './store/meter-registry.js';

const PROGRAM = 'presence-service';

const HELP = `Usage: presence-service <command> [options]

The Gridpresence presence service: an XMPP component (XEP-0114) that subscribes to every
meter's presence, records each state change in SQLite and serves the HTTP API.

Commands:
  run                  run the service (the default); stops cleanly on SIGINT/SIGTERM
  meters …             provision meters: add, remove, list, import (see 'meters --help')
  groups …             group memberships: list, show, add, remove (see 'groups --help')
  users …              HTTP API users and tokens: list, add, remove, passwd, token
                       (see 'users --help')

Options:
  -c, --config FILE    JSON config file (environment variables override single keys,
                       see docs/configuration.md); GP_SERVICE_CONFIG also names it
  -h, --help           this help
  -v, --version        the version

Exit codes: 0 ok, 1 failure, 2 bad config or usage, 3 the server refused the component.
`;

async function main(argv: string[]): Promise<number> {
  const command = argv.find((arg) => !arg.startsWith('-')) ?? 'run';
  if (command === 'meters') return meters(argv);
  if (command === 'groups') return groups(argv);
  if (command === 'users') return users(argv);
  let values: { config?: string; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }));
  } catch (error) {
    return usageError(PROGRAM, (error as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  if (values.version) {
    process.stdout.write(`${process.env.npm_package_version ?? '0.1.0'}\n`);
    return EXIT.OK;
  }
  if (command !== 'run') return usageError(PROGRAM, `unknown command '${command}'`);
  const config = loadServiceConfig(values.config ?? process.env.GP_SERVICE_CONFIG);
  const logger = createRootLogger({
    name: PROGRAM,
    level: config.log.level,
    format: config.log.format,
  });
  // docs/configuration.md: `kill -USR2 <pid>` switches between debug and the configured level
  // (children follow the root's level, src/log-level.ts).
  const toggleDebug = () => {
    logger.level = logger.level === config.log.level ? 'debug' : config.log.level;
    logger.warn({ logLevel: logger.level, by: 'SIGUSR2' }, 'log level changed');
  };
  process.on('SIGUSR2', toggleDebug);
  try {
    return await runUntilSignal(PROGRAM, logger, await startService(config, logger));
  } finally {
    process.off('SIGUSR2', toggleDebug);
  }
}

/** A sub-command's arguments; the config comes from --config before or after it. */
function subCommandArgs(name: string, argv: string[]) {
  const rest = [...argv];
  let configFile = process.env.GP_SERVICE_CONFIG;
  for (const flag of ['--config', '-c']) {
    const at = rest.indexOf(flag);
    if (at !== -1) {
      configFile = rest[at + 1];
      rest.splice(at, 2);
    }
  }
  const sub = rest.slice(rest.indexOf(name) + 1);
  const needsConfig = !(sub.includes('--help') || sub.includes('-h') || sub.length === 0);
  return { sub, configFile, needsConfig };
}

const out = (line: string) => void process.stdout.write(`${line}\n`);
const err = (line: string) => void process.stderr.write(`${line}\n`);

/** `groups …`: memberships in the registry; needs the database, not the XMPP server. */
async function groups(argv: string[]): Promise<number> {
  const { sub, configFile, needsConfig } = subCommandArgs('groups', argv);
  if (!needsConfig) return runGroupsCommand(sub, { out, err } as unknown as GroupsCommandDeps);
  const config = loadServiceConfig(configFile);
  const db = openDatabase(config.database.path);
  try {
    return await runGroupsCommand(sub, {
      registry: createMeterRegistry({ db }),
      directory: createGroupDirectory({ db }),
      out,
      err,
    });
  } finally {
    db.close();
  }
}

/** `users …`: the HTTP API's users and tokens (docs/http-auth.md); needs only the database. */
async function users(argv: string[]): Promise<number> {
  const { sub, configFile, needsConfig } = subCommandArgs('users', argv);
  if (!needsConfig) return runUsersCommand(sub, { out, err } as unknown as UsersCommandDeps);
  const config = loadServiceConfig(configFile);
  const db = openDatabase(config.database.path);
  try {
    return await runUsersCommand(sub, {
      users: createUserStore({ db }),
      tokens: createTokenStore({ db }),
      readStdin: readFirstLineOfStdin,
      out,
      err,
    });
  } finally {
    db.close();
  }
}

/** For --password-stdin: a pipe only, since a terminal would show the password as it is typed. */
async function readFirstLineOfStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new Error(
      '--password-stdin reads a pipe, not the terminal, e.g. read -rs PW && printf \'%s\\n\' "$PW" | presence-service users passwd NAME --password-stdin',
    );
  }
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** `meters …`: the config comes from --config before or after the sub-command. */
async function meters(argv: string[]): Promise<number> {
  const { sub, configFile, needsConfig } = subCommandArgs('meters', argv);
  if (!needsConfig) {
    // Help needs neither config nor database, and must work without them.
    return runMetersCommand(sub, { out, err } as unknown as MetersCommandDeps);
  }
  const config = loadServiceConfig(configFile);
  const db = openDatabase(config.database.path);
  try {
    return await runMetersCommand(sub, {
      config,
      registry: createMeterRegistry({ db }),
      provisioner: lazyProvisioner(config),
      out,
      err,
    });
  } finally {
    db.close();
  }
}

/** Only add, remove and import touch accounts; `list` must work without a provisioner config. */
function lazyProvisioner(config: ServiceConfig): AccountProvisioner {
  let provisioner: AccountProvisioner | undefined;
  const get = () => {
    provisioner ??= createProvisioner(config);
    return provisioner;
  };
  return {
    createAccounts: (accounts) => get().createAccounts(accounts),
    deleteAccount: (username) => get().deleteAccount(username),
  };
}

main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  (error: unknown) => exitWhenFlushed(reportCliError(PROGRAM, error)),
);
