import { ERROR_CODES, GridpresenceError } from '../errors.js';
import { luaString } from './lua.js';
import { asProsodyUser } from './prosody-user.js';
import { type CommandResult, describeFailure, runCommand } from './run-command.js';

// Accounts on a running Prosody through `prosodyctl --config CFG shell`, which talks to the
// server over its admin socket (mod_admin_shell): no restart, and one call creates hundreds of
// accounts (5,000 in about 10 s, against about 26 ms each with `prosodyctl register`;
// XMPP-NOTES "Prosody"). Works on any config file: the harness's and a production one.

export interface AccountCredentials {
  username: string;
  password: string;
}

/** Accounts per prosodyctl call, and a cap on the Lua line so argv stays far below 128 KiB. */
const BATCH_ACCOUNTS = 500;
const BATCH_CHARS = 60_000;
const SHELL_TIMEOUT_MS = 120_000;

/**
 * Creates the accounts, or sets the password of those that already exist, so running it twice
 * is harmless. Usernames must already be canonical (lower case, RFC 7622 §3.3 localpart):
 * the admin shell stores them as given, and a client's login is nodeprepped, so "Meter1" could
 * be created but never log in.
 */
export async function createProsodyAccounts(
  configFile: string,
  domain: string,
  accounts: readonly AccountCredentials[],
): Promise<void> {
  for (const account of accounts) assertUsername(account.username);
  for (const batch of batches(accounts, domain)) {
    const result = await prosodyShell(configFile, createOrUpdateChunk(batch, domain));
    if (!result.ok) {
      throw provisioningError(
        `creating ${batch.length} account(s) on ${domain}: ${describeFailure('prosodyctl shell', result)}`,
      );
    }
  }
}

/** Deletes the account; an account that does not exist counts as deleted. */
export async function deleteProsodyAccount(configFile: string, jid: string): Promise<void> {
  const line =
    `local ok, err = user:delete(${luaString(jid)}); ` +
    `if not ok and err ~= "No such user" then return nil, err end; return true, "deleted"`;
  const result = await prosodyShell(configFile, line);
  if (!result.ok) {
    throw provisioningError(`deleting ${jid}: ${describeFailure('prosodyctl shell', result)}`);
  }
}

export async function prosodyAccountExists(configFile: string, jid: string): Promise<boolean> {
  const at = jid.indexOf('@');
  if (at <= 0) throw provisioningError(`'${jid}' is not a user JID`);
  const [username, host] = [jid.slice(0, at), jid.slice(at + 1)];
  // A leading '>' runs the line with Prosody's globals, where usermanager lives. user_exists
  // answers nil plus a message for a missing user, which the shell would report as an error:
  // `== true` makes it a plain boolean, printed as "Result: true|false".
  const args = `${luaString(username)}, ${luaString(host)}`;
  const line = `>require("core.usermanager").user_exists(${args}) == true`;
  const result = await prosodyShell(configFile, line);
  const answer = /Result: (true|false)/.exec(result.stdout)?.[1];
  if (!result.ok || answer === undefined) {
    throw provisioningError(`looking up ${jid}: ${describeFailure('prosodyctl shell', result)}`);
  }
  return answer === 'true';
}

/**
 * One Lua chunk for one shell line. The shell's environment has the admin commands (`user`)
 * but not Lua's standard globals, hence the numeric loop and string concatenation.
 */
function createOrUpdateChunk(batch: readonly AccountCredentials[], domain: string): string {
  const table = batch
    .map((a) => `{${luaString(`${a.username}@${domain}`)},${luaString(a.password)}}`)
    .join(',');
  return [
    `local t = {${table}}`,
    'local failed = ""',
    'for i = 1, #t do',
    '  local jid, pw = t[i][1], t[i][2]',
    '  local ok, err = user:create(jid, pw)',
    '  if not ok and err == "User exists" then ok, err = user:password(jid, pw) end',
    '  if not ok then failed = failed .. jid .. ": " .. tostring(err) .. "; " end',
    'end',
    'if failed ~= "" then return nil, failed end',
    'return true, #t .. " account(s) created or updated"',
  ].join(' ');
}

function* batches(
  accounts: readonly AccountCredentials[],
  domain: string,
): Generator<AccountCredentials[]> {
  let batch: AccountCredentials[] = [];
  let chars = 0;
  for (const account of accounts) {
    const size =
      luaString(`${account.username}@${domain}`).length + luaString(account.password).length + 4;
    if (batch.length > 0 && (batch.length >= BATCH_ACCOUNTS || chars + size > BATCH_CHARS)) {
      yield batch;
      batch = [];
      chars = 0;
    }
    batch.push(account);
    chars += size;
  }
  if (batch.length > 0) yield batch;
}

/**
 * Runs one shell line. As the prosody user when we are root, like the server itself, so
 * nothing prosodyctl writes into data_path ends up owned by root.
 */
async function prosodyShell(configFile: string, line: string): Promise<CommandResult> {
  // The line goes on stdin, not argv: it holds passwords, and argv is readable by every local
  // user (`ps`, /proc/*/cmdline). On stdin the shell always exits 0, so the chunk's own result
  // is read from its output: the shell prints `| OK: …` for success and `| ! …` for failure.
  const [file, args] = asProsodyUser('prosodyctl', ['--config', configFile, 'shell']);
  try {
    const result = await runCommand(file, args, {
      timeoutMs: SHELL_TIMEOUT_MS,
      input: `${line}\n`,
    });
    const failed = !result.ok || /^\|? ?! /m.test(result.stdout.replace(/^prosody> /gm, ''));
    return failed ? { ...result, ok: false } : result;
  } catch (cause) {
    throw new GridpresenceError(ERROR_CODES.PROVISIONING_FAILED, `cannot run ${file}`, {
      cause,
      hint: 'is Prosody installed (prosodyctl on PATH)?',
    });
  }
}

function assertUsername(username: string): void {
  // RFC 7622 §3.3.1 forbids these in a localpart; upper case would be folded at login.
  if (username === '' || /[\s"&'/:<>@A-Z]/.test(username) || Buffer.byteLength(username) > 1023) {
    throw provisioningError(
      `'${username}' is not a canonical JID localpart (lower case, no spaces or "&'/:<>@)`,
    );
  }
}

function provisioningError(message: string): GridpresenceError {
  return new GridpresenceError(ERROR_CODES.PROVISIONING_FAILED, message, {
    hint: 'is Prosody running with mod_admin_shell, and is this the config it runs with?',
  });
}
