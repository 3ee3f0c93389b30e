import { readFileSync } from 'node:fs';
import { EXIT } from '../../src/errors.js';
import { isMeterState, METER_STATES, meterBareJid } from '../../src/protocol/index.js';
import type { ServiceConfig } from '../config.js';
import { meterView } from '../http/meter-view.js';
import type { AccountProvisioner } from '../provisioning/account-provisioner.js';
import { IMPORT_CHUNK_SIZE, ImportInterrupted, importMeters } from '../provisioning/bulk-import.js';
import { writeCredentialsFile } from '../provisioning/credentials-file.js';
import { checkImportRows } from '../provisioning/import-rows.js';
import { deprovisionMeter, provisionMeter } from '../provisioning/meter-lifecycle.js';
import { generatePassword } from '../provisioning/passwords.js';
import type { MeterRegistry, MeterWithState } from '../store/meter-registry.js';
import { CsvSyntaxError, formatCsv, parseCsv } from './csv.js';
import { parseSubcommand, runSubcommands, UsageError } from './subcommands.js';
import { table } from './table.js';

// `presence-service meters …`: provisioning meters (their XMPP account and registry row) from
// the shell. Output meant for programs goes to `out` (stdout), everything for the person to
// `err`. `argv` is what follows `meters`.

export interface MetersCommandDeps {
  config: ServiceConfig;
  registry: MeterRegistry;
  provisioner: AccountProvisioner;
  out: (line: string) => void;
  err: (line: string) => void;
}

const PROGRAM = 'presence-service meters';

const HELP: Record<string, string> = {
  meters: `Usage: ${PROGRAM} <add|remove|list|import> [options]

Provisions meters: creates or deletes their XMPP account and records them in the registry.

Commands:
  add <id>             create one meter; prints {"id","jid","password"} as JSON
  remove <id>          delete its account and registry entry (its history is kept)
  list                 list meters with their current state
  import <file.csv>    create many meters from a CSV file

'${PROGRAM} <command> --help' describes each command.
Exit codes: 0 ok, 1 failure (e.g. the XMPP server refused), 2 bad input.`,
  add: `Usage: ${PROGRAM} add <id> [--kind K] [--group G]... [--email E]
                          [--password P | --password-file F]

Creates the meter's XMPP account and registers it. Without a password one is generated. The
password is printed once, in the JSON on stdout, and never stored by the service.

  <id>                 meter id: lower-case letters, digits and "-", 1-63 characters
  --kind K             revenue-meter, relay, gateway or another IED kind
  --group G            a group to put the meter in (repeat for several)
  --email E            contact address for the meter's site
  --password P         the account password (visible to other users in 'ps': prefer a file)
  --password-file F    read the password from the first line of F`,
  remove: `Usage: ${PROGRAM} remove <id>

Deletes the meter's XMPP account and its registry entry. Its state history is kept.`,
  list: `Usage: ${PROGRAM} list [--state S] [--group G] [--json]

  --state S            only meters in state S (${METER_STATES.join(', ')});
                       'decoupled' includes meters never seen
  --group G            only members of group G
  --json               {"total","meters":[...]} as the HTTP API shows it, instead of a table`,
  import: `Usage: ${PROGRAM} import <file.csv> [--credentials-out F]

Creates many meters. The CSV file has a header row; columns (any order):
  id        required
  password  optional; generated when empty
  kind      optional
  groups    optional, separated by ';'
  email     optional
Every row is checked first; if any is bad, all bad rows are listed and nothing is imported.
Meters that already exist are skipped (so an interrupted import can be run again).

  --credentials-out F  write the generated passwords as CSV (id,jid,password) to F, created
                       with mode 0600; required when a row has no password`,
};

type Handler = (args: string[], deps: MetersCommandDeps) => Promise<number>;
const COMMANDS: Record<string, Handler> = { add, remove, list, import: importCommand };

export function runMetersCommand(argv: string[], deps: MetersCommandDeps): Promise<number> {
  return runSubcommands(
    { program: PROGRAM, topic: 'meters', help: HELP, commands: COMMANDS },
    argv,
    deps,
  );
}

async function add(args: string[], deps: MetersCommandDeps): Promise<number> {
  const { values, positionals } = parseSubcommand('add', args, {
    kind: { type: 'string' },
    group: { type: 'string', multiple: true },
    email: { type: 'string' },
    password: { type: 'string' },
    'password-file': { type: 'string' },
  });
  const id = onePositional('add', positionals, 'a meter id');
  if (values.password !== undefined && values['password-file'] !== undefined) {
    throw new UsageError('add', 'give --password or --password-file, not both');
  }
  const password =
    values['password-file'] !== undefined
      ? readPasswordFile(values['password-file'])
      : values.password;
  const { record, password: used } = await provisionMeter(lifecycleDeps(deps), {
    id,
    ...(values.kind !== undefined && { kind: values.kind }),
    ...(values.email !== undefined && { email: values.email }),
    ...(values.group !== undefined && { groups: values.group }),
    ...(password !== undefined && { password }),
  });
  deps.out(JSON.stringify({ id: record.id, jid: record.jid, password: used }));
  return EXIT.OK;
}

async function remove(args: string[], deps: MetersCommandDeps): Promise<number> {
  const { positionals } = parseSubcommand('remove', args, {});
  const id = onePositional('remove', positionals, 'a meter id');
  await deprovisionMeter(lifecycleDeps(deps), id);
  deps.err(`removed ${id} (its state history is kept)`);
  return EXIT.OK;
}

async function list(args: string[], deps: MetersCommandDeps): Promise<number> {
  const { values, positionals } = parseSubcommand('list', args, {
    state: { type: 'string' },
    group: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError('list', `unexpected '${positionals[0]}'`);
  const { state, group } = values;
  if (state !== undefined && !isMeterState(state)) {
    throw new UsageError('list', `--state must be one of ${METER_STATES.join(', ')}`);
  }
  const meters: MeterWithState[] = [];
  const page = 1000;
  for (let offset = 0; ; offset += page) {
    const result = deps.registry.list({ state, group, limit: page, offset });
    meters.push(...result.meters);
    if (meters.length >= result.total || result.meters.length === 0) break;
  }
  const views = meters.map(meterView);
  if (values.json) {
    deps.out(JSON.stringify({ total: views.length, meters: views }, null, 2));
    return EXIT.OK;
  }
  const rows = views.map((m) => [
    m.id,
    m.state,
    m.reason?.code ?? '',
    m.kind ?? '',
    m.groups.join(','),
    m.lastSeenAt ?? 'never',
  ]);
  for (const line of table(['ID', 'STATE', 'REASON', 'KIND', 'GROUPS', 'LAST SEEN'], rows)) {
    deps.out(line);
  }
  deps.err(`${views.length} meter(s)`);
  return EXIT.OK;
}

async function importCommand(args: string[], deps: MetersCommandDeps): Promise<number> {
  const { values, positionals } = parseSubcommand('import', args, {
    'credentials-out': { type: 'string' },
  });
  const file = onePositional('import', positionals, 'a CSV file');
  const domain = deps.config.domain;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError('import', `cannot read ${file}: ${(error as Error).message}`);
  }
  let records: ReturnType<typeof parseCsv>;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) return badImport(deps, file, [error.message]);
    throw error;
  }
  const checked = checkImportRows(records, domain);
  if (!checked.ok) return badImport(deps, file, checked.errors);

  // Meters already registered keep their account untouched: creating it again would reset
  // the password an installed meter uses.
  const fresh = checked.rows.filter((row) => !deps.registry.get(row.id));
  const existing = checked.rows.length - fresh.length;
  if (existing > 0) deps.err(`skipping ${existing} meter(s) that already exist`);
  const needPassword = fresh.filter((row) => row.password === undefined);
  const credentialsOut = values['credentials-out'];
  if (needPassword.length > 0 && credentialsOut === undefined) {
    throw new UsageError(
      'import',
      `${needPassword.length} row(s) have no password (first on line ${needPassword[0]?.line}); ` +
        'give --credentials-out F to receive the generated ones',
    );
  }
  const rows = fresh.map((row) => ({ ...row, password: row.password ?? generatePassword() }));
  const generated = rows.filter((_, i) => fresh[i]?.password === undefined);
  if (credentialsOut !== undefined && generated.length > 0) {
    // Written before any account exists: an account whose password was lost is useless.
    writeCredentialsFile(
      credentialsOut,
      formatCsv([
        ['id', 'jid', 'password'],
        ...generated.map(({ id, password }) => [id, meterBareJid(id, domain), password]),
      ]),
    );
    deps.err(`wrote ${generated.length} generated password(s) to ${credentialsOut} (mode 0600)`);
  }
  try {
    const result = await importMeters(lifecycleDeps(deps), rows, {
      chunkSize: IMPORT_CHUNK_SIZE,
      onProgress: ({ done, total }) => deps.err(`imported ${done}/${total}`),
    });
    deps.out(
      JSON.stringify({ imported: result.imported, skipped: existing + result.skipped.length }),
    );
    return EXIT.OK;
  } catch (error) {
    if (!(error instanceof ImportInterrupted)) throw error;
    deps.err(`${PROGRAM}: ${error.message}`);
    deps.err(
      `  → ${error.imported} of ${rows.length} meter(s) were imported; fix the cause and run the ` +
        'same import again (existing meters are skipped; use a new --credentials-out file)',
    );
    return EXIT.FAILURE;
  }
}

function badImport(deps: MetersCommandDeps, file: string, errors: string[]): number {
  deps.err(`${PROGRAM}: ${file}: ${errors.length} problem(s); nothing was imported`);
  for (const error of errors) deps.err(`  ${error}`);
  return EXIT.CONFIG;
}

function readPasswordFile(path: string): string {
  try {
    return (readFileSync(path, 'utf8').split(/\r?\n/)[0] ?? '').trimEnd();
  } catch (error) {
    throw new UsageError('add', `cannot read --password-file ${path}: ${(error as Error).message}`);
  }
}

function lifecycleDeps(deps: MetersCommandDeps) {
  return { registry: deps.registry, provisioner: deps.provisioner, domain: deps.config.domain };
}

function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      command,
      positionals.length === 0 ? `${command} needs ${what}` : `${command} takes only ${what}`,
    );
  }
  return positionals[0] as string;
}
