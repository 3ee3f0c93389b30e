import type { AgentConfig } from '../config.js';

// `meter-agent doctor` (docs/doctor.md): what a check is, what it reports, and what the checks
// learn for the checks after them. The checks themselves live one per file beside this one.

/** The checks, in the order they run and are printed. */
export const CHECK_NAMES = [
  'config',
  'clock',
  'dns',
  'tcp',
  'tls',
  'login',
  'subscription',
  'meter',
  'disk',
] as const;

export type CheckName = (typeof CHECK_NAMES)[number];

/** `warn` passes (exit 0) but wants attention; `skip` means an earlier check it needs failed. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One printed line (and one element of `--json`). */
export interface CheckResult {
  check: CheckName;
  status: CheckStatus;
  /** What was found: for ok/warn the facts, for fail what is wrong, for skip which check. */
  detail: string;
  /** What to do about a fail or a warn. */
  hint?: string | undefined;
}

/** What a check's run returns; the runner adds the name, skips and timeouts. */
export interface CheckOutcome {
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  hint?: string | undefined;
}

export const ok = (detail: string): CheckOutcome => ({ status: 'ok', detail });
export const warn = (detail: string, hint: string): CheckOutcome => ({
  status: 'warn',
  detail,
  hint,
});
export const fail = (detail: string, hint: string): CheckOutcome => ({
  status: 'fail',
  detail,
  hint,
});

/** One entry of the meter's roster (RFC 6121 §2.1.2), as the login check read it. */
export interface RosterItem {
  jid: string;
  subscription: string;
  /** `subscribe` when the meter itself asked and is waiting (RFC 6121 §2.1.2.2). */
  ask?: string | undefined;
}

/**
 * What the checks share. The runner guarantees that a check runs only when the checks it
 * `needs` passed, so a check may rely on what they stored here (see `required`).
 */
export interface DoctorContext {
  readonly configFile: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => Date;
  /** config: the validated config. */
  config?: AgentConfig;
  /** config: the file or a `…File` secret could not be read at all (exit 2, not 1). */
  configUnreadable?: boolean;
  /** clock: why the system clock looks wrong, if it does (the tls check says so too). */
  clockSuspect?: string;
  /** dns: the addresses xmpp.host resolved to, in the order the system gave them. */
  addresses?: string[];
  /** tcp: the address that accepted the connection. */
  reachedAddress?: string;
  /** login: the roster, or why it could not be read. */
  roster?: RosterItem[] | { error: string };
}

export interface CheckRun {
  /** Aborted when the check's time is up: release sockets and stop waiting. */
  signal: AbortSignal;
  timeoutMs: number;
}

export interface Check {
  name: CheckName;
  /** Checks that must pass (ok or warn) first; otherwise this one is skipped, saying which. */
  needs: readonly CheckName[];
  /** Its time limit given the `--timeout-ms` base; default the base. */
  timeoutMs?(ctx: DoctorContext, baseMs: number): number;
  /** What to do when it runs out of time (the runner's message says that it did). */
  timeoutHint?: string;
  run(ctx: DoctorContext, run: CheckRun): Promise<CheckOutcome>;
}

/** A fact an earlier check stored; its absence is a bug in the `needs` of a check. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`doctor: ${what} is missing (an earlier check did not run)`);
  return value;
}
