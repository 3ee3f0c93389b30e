import { EXIT } from '../../src/errors.js';
import { ROLES, type Role } from '../../src/protocol/commands.js';
import { AuthError } from '../auth/auth-error.js';
import {
  generatePassword,
  hashPassword,
  PASSWORD_RULES,
  passwordProblem,
} from '../auth/passwords.js';
import { TOKEN_LIMITS, type TokenStore } from '../auth/token-store.js';
import type { UserStore } from '../auth/user-store.js';
import { parseSubcommand, runSubcommands, UsageError } from './subcommands.js';
import { table } from './table.js';

// `presence-service users …`: the HTTP API's users and their API tokens (docs/http-auth.md),
// edited in the service database from the shell, e.g. to make the first admin. A password never
// comes from the command line (other users see it in `ps`): it is read from stdin or generated.
// Secrets (a generated password, a token) are printed once on stdout; everything for the person
// goes to stderr. A running service sees every change at its next request.

export interface UsersCommandDeps {
  users: UserStore;
  tokens: TokenStore;
  /** The first line of standard input (for --password-stdin). */
  readStdin: () => Promise<string>;
  out: (line: string) => void;
  err: (line: string) => void;
}

const PROGRAM = 'presence-service users';

const HELP: Record<string, string> = {
  users: `Usage: ${PROGRAM} <list|add|remove|passwd|token> [options]

Manages who may use the HTTP API and the dashboard (docs/http-auth.md). Roles: viewer (reads),
operator (also commands meters and groups, changes limits), admin (also manages users and
tokens).

Commands:
  list                       the users with their role
  add <name> [--role R]      add a user; prints a generated password once
  remove <name>              remove a user with their sessions and tokens
  passwd <name>              set a new password; ends the user's sessions
  token <name> [--label L]   make an API token for the user; prints it once

'${PROGRAM} <command> --help' describes each command.
Exit codes: 0 ok, 1 failure (e.g. an unknown user, the last admin), 2 bad input.`,
  list: `Usage: ${PROGRAM} list [--json]

  --json               {"users":[{username,role,createdAt,passwordChangedAt,tokens}]}`,
  add: `Usage: ${PROGRAM} add <name> [--role ${ROLES.join('|')}] [--password-stdin]

Adds a user (default role: viewer). Without --password-stdin a strong password is generated
and printed once on stdout. Usernames: letters, digits, '.', '_', '@', '-'; case-insensitive.

  --role R             ${ROLES.join(', ')}
  --password-stdin     read the password from the first line of stdin (at least ${PASSWORD_RULES.minLength} characters)`,
  remove: `Usage: ${PROGRAM} remove <name>

Removes the user, their sessions and their API tokens. The last admin cannot be removed.`,
  passwd: `Usage: ${PROGRAM} passwd <name> [--password-stdin]

Sets a new password (generated and printed once, or read from stdin) and ends every session
of the user. Their API tokens keep working; revoke them with DELETE /api/tokens/:id.`,
  token: `Usage: ${PROGRAM} token <name> [--label L] [--expires-days N]

Makes an API token that acts as the user, with the user's role, and prints it once on stdout.
Programs send it as 'Authorization: Bearer <token>' (Prometheus: a viewer's token).

  --label L            what the token is for, shown in lists (default: cli)
  --expires-days N     the token stops working after N days (default: never)`,
};

type Handler = (args: string[], deps: UsersCommandDeps) => number | Promise<number>;
const COMMANDS: Record<string, Handler> = { list, add, remove, passwd, token };

export async function runUsersCommand(argv: string[], deps: UsersCommandDeps): Promise<number> {
  return runSubcommands(
    { program: PROGRAM, topic: 'users', help: HELP, commands: withAuthErrors(COMMANDS) },
    argv,
    deps,
  );
}

function list(args: string[], deps: UsersCommandDeps): number {
  const { values, positionals } = parseSubcommand('list', args, { json: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError('list', `unexpected '${positionals[0]}'`);
  const live = new Map<string, number>();
  for (const t of deps.tokens.list()) {
    if (t.revokedAt === null && (t.expiresAt === null || Date.parse(t.expiresAt) > Date.now())) {
      live.set(t.username, (live.get(t.username) ?? 0) + 1);
    }
  }
  const users = deps.users.list().map((u) => ({
    username: u.username,
    role: u.role,
    createdAt: u.createdAt,
    passwordChangedAt: u.passwordChangedAt,
    tokens: live.get(u.username) ?? 0,
  }));
  if (values.json) {
    deps.out(JSON.stringify({ users }, null, 2));
    return EXIT.OK;
  }
  const rows = users.map((u) => [
    u.username,
    u.role,
    u.createdAt,
    u.passwordChangedAt,
    String(u.tokens),
  ]);
  for (const line of table(['USER', 'ROLE', 'CREATED', 'PASSWORD SET', 'TOKENS'], rows)) {
    deps.out(line);
  }
  deps.err(`${users.length} user(s)`);
  return EXIT.OK;
}

async function add(args: string[], deps: UsersCommandDeps): Promise<number> {
  const { values, positionals } = parseSubcommand('add', args, {
    role: { type: 'string' },
    'password-stdin': { type: 'boolean' },
  });
  const name = oneName('add', positionals);
  const role = roleOf('add', values.role ?? 'viewer');
  const { password, generated } = await newPassword('add', values['password-stdin'], deps);
  const user = deps.users.add({ username: name, role, passwordHash: await hashPassword(password) });
  deps.err(`added ${user.username} (${user.role})`);
  if (generated) {
    deps.err('their password, shown this once:');
    deps.out(password);
  }
  return EXIT.OK;
}

function remove(args: string[], deps: UsersCommandDeps): number {
  const { positionals } = parseSubcommand('remove', args, {});
  const name = oneName('remove', positionals);
  deps.users.remove(name);
  deps.err(`removed ${name} with their sessions and API tokens`);
  return EXIT.OK;
}

async function passwd(args: string[], deps: UsersCommandDeps): Promise<number> {
  const { values, positionals } = parseSubcommand('passwd', args, {
    'password-stdin': { type: 'boolean' },
  });
  const name = oneName('passwd', positionals);
  // Fail on an unknown user before asking for (or printing) a password.
  if (!deps.users.get(name)) throw new AuthError('user-unknown', `no user '${name}'`);
  const { password, generated } = await newPassword('passwd', values['password-stdin'], deps);
  const user = deps.users.setPassword(name, await hashPassword(password));
  deps.err(`new password set for ${user.username}; their sessions have ended`);
  if (generated) {
    deps.err('the password, shown this once:');
    deps.out(password);
  }
  return EXIT.OK;
}

function token(args: string[], deps: UsersCommandDeps): number {
  const { values, positionals } = parseSubcommand('token', args, {
    label: { type: 'string' },
    'expires-days': { type: 'string' },
  });
  const name = oneName('token', positionals);
  let expiresInDays: number | undefined;
  if (values['expires-days'] !== undefined) {
    expiresInDays = Number(values['expires-days']);
    if (!(expiresInDays > 0 && expiresInDays <= TOKEN_LIMITS.maxDays)) {
      throw new UsageError(
        'token',
        `--expires-days must be a number of days, more than 0 and at most ${TOKEN_LIMITS.maxDays}`,
      );
    }
  }
  const user = deps.users.get(name);
  if (!user) throw new AuthError('user-unknown', `no user '${name}'`);
  const made = deps.tokens.create(user.id, {
    label: values.label ?? 'cli',
    ...(expiresInDays !== undefined && { expiresInDays }),
  });
  const expiry = made.record.expiresAt ? `, until ${made.record.expiresAt}` : '';
  deps.err(
    `API token ${made.record.id} for ${user.username} (${user.role}${expiry}), shown this once:`,
  );
  deps.out(made.token);
  return EXIT.OK;
}

function oneName(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(command, `${command} needs one username`);
  return positionals[0] as string;
}

function roleOf(command: string, value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) {
    throw new UsageError(command, `--role must be one of: ${ROLES.join(', ')}`);
  }
  return value as Role;
}

async function newPassword(
  command: string,
  fromStdin: boolean | undefined,
  deps: UsersCommandDeps,
): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: generatePassword(), generated: true };
  const password = await deps.readStdin();
  const problem = passwordProblem(password);
  if (problem) throw new UsageError(command, `the password from stdin: ${problem}`);
  return { password, generated: false };
}

/** The stores' refusals (unknown user, last admin…) are failures with their message: exit 1. */
function withAuthErrors(commands: Record<string, Handler>): Record<string, Handler> {
  return Object.fromEntries(
    Object.entries(commands).map(([name, handler]) => [
      name,
      async (args: string[], deps: UsersCommandDeps) => {
        try {
          return await handler(args, deps);
        } catch (error) {
          if (error instanceof AuthError && error.code === 'bad-request') {
            throw new UsageError(name, error.message);
          }
          throw error;
        }
      },
    ]),
  );
}
