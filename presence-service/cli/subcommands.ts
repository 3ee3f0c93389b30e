import { parseArgs } from 'node:util';
import { ERROR_CODES, EXIT, GridpresenceError } from '../../src/errors.js';

// What `presence-service meters …` and `presence-service groups …` share: picking the
// sub-command, help that works without config or database, option parsing, and how an error
// is printed and which exit code it gets (usage and input errors 2, like config errors).

export class UsageError extends Error {
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(message);
  }
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** node:util parseArgs, strict, with its errors turned into usage errors of `command`. */
export function parseSubcommand<O extends OptionSpec>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(command, (error as Error).message);
  }
}

export interface SubcommandSet<D> {
  /** e.g. 'presence-service meters' */
  program: string;
  /** The word after the program name, e.g. 'meters'; HELP[topic] is the overview. */
  topic: string;
  help: Record<string, string>;
  commands: Record<string, (args: string[], deps: D) => number | Promise<number>>;
}

export async function runSubcommands<
  D extends { out(line: string): void; err(line: string): void },
>(set: SubcommandSet<D>, argv: string[], deps: D): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' && args[0] && set.help[args[0]] ? args[0] : set.topic;
    deps.out(set.help[topic] as string);
    return EXIT.OK;
  }
  const handler = set.commands[name];
  try {
    if (!handler) throw new UsageError(set.topic, `unknown command '${name}'`);
    // Help must work without config or database: the caller may not have opened them.
    if (args.includes('--help') || args.includes('-h')) {
      deps.out(set.help[name] as string);
      return EXIT.OK;
    }
    return await handler(args, deps);
  } catch (error) {
    return report(set, error, deps.err);
  }
}

/** Prints an error the way every CLI here does (src/cli/report-error.ts) and picks the code. */
function report<D>(set: SubcommandSet<D>, error: unknown, err: (line: string) => void): number {
  const { program, topic } = set;
  if (error instanceof UsageError) {
    err(`${program}: ${error.message}`);
    const help = error.command === topic ? program : `${program} ${error.command}`;
    err(`  → see '${help} --help'`);
    return EXIT.CONFIG;
  }
  if (error instanceof GridpresenceError) {
    err(`${program}: ${error.message}`);
    if (error.hint) err(`  → ${error.hint}`);
    return error.code === ERROR_CODES.IMPORT_INVALID || error.code === ERROR_CODES.CONFIG_INVALID
      ? EXIT.CONFIG
      : EXIT.FAILURE;
  }
  err(`${program}: ${(error as Error)?.message ?? String(error)}`);
  return EXIT.FAILURE;
}
