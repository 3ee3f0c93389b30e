import type { Check, CheckName, CheckOutcome, CheckResult, DoctorContext } from './check.js';

// Runs the checks in order: each one only when the checks it needs passed (else SKIP, naming the
// check that failed), each within its time limit, none able to stop the others by throwing.

/** After a check's time is up it has this long to report its own, more precise, failure. */
const GRACE_MS = 250;

export interface RunnerOptions {
  /** The `--timeout-ms` base each check's limit is derived from. */
  timeoutMs: number;
  /** Called as each result is known, so a person sees progress line by line. */
  onResult?: (result: CheckResult) => void;
  /** Strings that must never be printed (the XMPP password): replaced in every result. */
  secrets?: () => string[];
}

export async function runChecks(
  checks: readonly Check[],
  ctx: DoctorContext,
  options: RunnerOptions,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  /** For a check that did not pass: the failed check at the root of it (itself if it failed). */
  const rootFailure = new Map<CheckName, CheckName>();
  for (const check of checks) {
    const blocker = check.needs.find((name) => rootFailure.has(name));
    let result: CheckResult;
    if (blocker !== undefined) {
      const root = rootFailure.get(blocker) as CheckName;
      result = { check: check.name, status: 'skip', detail: `not run: ${root} failed` };
    } else {
      const outcome = await runOne(check, ctx, options.timeoutMs);
      result = { check: check.name, ...outcome };
    }
    if (result.status === 'fail') rootFailure.set(check.name, check.name);
    if (result.status === 'skip') {
      rootFailure.set(check.name, rootFailure.get(blocker as CheckName) as CheckName);
    }
    result = redact(result, options.secrets?.() ?? []);
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

async function runOne(check: Check, ctx: DoctorContext, baseMs: number): Promise<CheckOutcome> {
  const timeoutMs = check.timeoutMs?.(ctx, baseMs) ?? baseMs;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      // The check saw the abort and may still say precisely what it was waiting for.
      timer = setTimeout(
        () =>
          resolve({
            status: 'fail',
            detail: `no result within ${timeoutMs} ms`,
            hint: check.timeoutHint ?? 'try again with a larger --timeout-ms',
          }),
        GRACE_MS,
      );
    }, timeoutMs);
  });
  const ran = check.run(ctx, { signal: controller.signal, timeoutMs }).catch(
    (error: unknown): CheckOutcome => ({
      status: 'fail',
      detail: `the check itself failed: ${(error as Error)?.message ?? String(error)}`,
      hint: 'this is a bug in meter-agent doctor: report it with this output',
    }),
  );
  try {
    return await Promise.race([ran, timedOut]);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** STYLE §6: secrets are never printed, whatever a library put into an error message. */
function redact(result: CheckResult, secrets: string[]): CheckResult {
  // Very short "secrets" would blank out ordinary words; the config demands at least 1 char.
  const words = secrets.filter((s) => s.length >= 3);
  if (words.length === 0) return result;
  const clean = (text: string) => words.reduce((t, s) => t.split(s).join('[redacted]'), text);
  return {
    ...result,
    detail: clean(result.detail),
    ...(result.hint !== undefined ? { hint: clean(result.hint) } : {}),
  };
}
