import type { CheckResult, DoctorContext } from './check.js';
import { DOCTOR_CHECKS } from './checks.js';
import { exitCodeOf, formatJson, formatLine, formatSummary } from './format.js';
import { runChecks } from './runner.js';

// `meter-agent doctor`: the field technician's check list (docs/doctor.md). Runs every check in
// order, prints a line as each one ends (or a JSON array at the end) and returns the exit code.

export const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

export interface DoctorOptions {
  configFile: string | undefined;
  json: boolean;
  /** Each check's time limit (the login check gets twice this). */
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  out?: NodeJS.WritableStream;
  now?: () => Date;
}

export async function runDoctor(options: DoctorOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const ctx: DoctorContext = {
    configFile: options.configFile,
    env: options.env ?? process.env,
    now: options.now ?? (() => new Date()),
  };
  const results: CheckResult[] = await runChecks(DOCTOR_CHECKS, ctx, {
    timeoutMs: options.timeoutMs,
    secrets: () => (ctx.config ? [ctx.config.xmpp.password] : []),
    onResult: options.json ? undefined : (result) => out.write(`${formatLine(result)}\n`),
  });
  out.write(options.json ? formatJson(results) : `${formatSummary(results)}\n`);
  return exitCodeOf(results, ctx.configUnreadable === true);
}

/** `--timeout-ms`: a whole number of ms, 100 to 600,000; undefined when it is not one. */
export function parseTimeoutMs(text: string | undefined): number | undefined {
  if (text === undefined) return DEFAULT_CHECK_TIMEOUT_MS;
  if (!/^\d{1,6}$/.test(text)) return undefined;
  const ms = Number(text);
  return ms >= 100 && ms <= 600_000 ? ms : undefined;
}
