import { connectSse, type SseConnection } from '../../src/stack/sse-client.js';
import { waitFor } from '../../src/stack/wait.js';
import type { BenchContext } from './context.js';

// State changes on running meters, and their arrival as committed records on the service's
// event stream. A change is an injected metrology fault (unavailable/fault) or its clearing
// (available): one presence per change and nothing else (a tamper would also send an event
// through the data outbox). The agent answers with the new seq and the moment it applied the
// change (its clock; same machine), so every change has a key `<meter>#<seq>` and a start time.

export interface Change {
  key: string;
  meterId: string;
  /** When the agent applied the change (wall-clock ms, sub-ms precision). */
  atMs: number;
}

export interface ChangeDriver {
  /** Flips a meter between fault and no fault. */
  toggle(meterId: string): Promise<Change>;
  /** Meters the driver left in fault. */
  readonly faulted: ReadonlySet<string>;
  /** Clears every fault the driver left, and waits until the service has recorded it. */
  restore(recorder: ChangeRecorder): Promise<void>;
}

export function createChangeDriver(ctx: BenchContext): ChangeDriver {
  const faulted = new Set<string>();
  const dataDirOf = (meterId: string) => {
    const agent = ctx.stack.agents.get(meterId);
    if (!agent) throw new Error(`no meter ${meterId}`);
    return agent.dataDir;
  };
  const driver: ChangeDriver = {
    async toggle(meterId) {
      const clear = faulted.has(meterId);
      if (clear) faulted.delete(meterId);
      else faulted.add(meterId);
      const result = (await ctx.control.request(dataDirOf(meterId), {
        op: 'inject',
        name: clear ? 'fault-clear' : 'fault',
      })) as { status: { seq: number }; atMs: number };
      return { key: `${meterId}#${result.status.seq}`, meterId, atMs: result.atMs };
    },
    faulted,
    async restore(recorder) {
      const changes = await Promise.all([...faulted].map((id) => driver.toggle(id)));
      // After an overload some meters are reconnecting: Prosody dropped them for a read timeout,
      // and a session the server ended is retried after up to reconnect.spreadMs (60 s); the
      // clear goes out when the session is back.
      const missing = await recorder.waitForKeys(
        changes.map((c) => c.key),
        120_000,
      );
      if (missing.length > 0) {
        throw new Error(`${missing.length} cleared faults were not recorded, e.g. ${missing[0]}`);
      }
    },
  };
  return driver;
}

export interface ChangeRecorder {
  /** Arrival time (wall-clock ms) of the committed record `<meter>#<seq>` on the SSE stream. */
  arrivalOf(key: string): number | undefined;
  /** Records seen so far. */
  readonly count: number;
  /** Waits until every key has arrived or `timeoutMs` passed; returns the missing ones. */
  waitForKeys(keys: readonly string[], timeoutMs: number): Promise<string[]>;
  close(): void;
}

export async function recordChanges(ctx: BenchContext): Promise<ChangeRecorder> {
  const arrivals = new Map<string, number>();
  const sse: SseConnection = await connectSse(
    `${ctx.stack.apiUrl}/api/events`,
    (event) => {
      if (event.event !== 'state') return;
      const change = JSON.parse(event.data) as { meterId: string; seq: number | null };
      arrivals.set(`${change.meterId}#${change.seq}`, event.receivedAtMs);
    },
    { authorization: `Bearer ${ctx.stack.apiToken}` },
    // Under overload the service cuts a reader that falls 4 MB behind (this one, in a 60-s hold
    // beyond the sustainable rate); resuming with Last-Event-ID keeps every record counted.
    { resume: true },
  );
  return {
    arrivalOf: (key) => arrivals.get(key),
    get count() {
      return arrivals.size;
    },
    async waitForKeys(keys, timeoutMs) {
      const missing = () => keys.filter((k) => !arrivals.has(k));
      await waitFor('changes recorded', () => missing().length === 0, timeoutMs, 50).catch(
        () => undefined,
      );
      return missing();
    },
    close: () => sse.close(),
  };
}

/**
 * Calls `fire(i)` for i = 0 … count-1 at `ratePerS`, open loop: on schedule whatever the answers
 * take, so that a slow system shows as latency, not as a lower offered rate. Resolves when the
 * last one has been fired, with how far behind its schedule the loop ran at worst.
 */
export async function firePaced(
  ratePerS: number,
  count: number,
  fire: (i: number) => void,
): Promise<{ seconds: number; worstLagMs: number }> {
  const t0 = performance.now();
  let fired = 0;
  let worstLagMs = 0;
  while (fired < count) {
    const elapsed = performance.now() - t0;
    const due = Math.min(count, Math.floor((elapsed * ratePerS) / 1000) + 1);
    if (due > fired) worstLagMs = Math.max(worstLagMs, elapsed - (fired * 1000) / ratePerS);
    while (fired < due) fire(fired++);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return { seconds: (performance.now() - t0) / 1000, worstLagMs };
}

/** Waits until `answered()` reaches `fired` or `timeoutMs` passed. */
export async function awaitAnswers(
  answered: () => number,
  fired: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (answered() < fired && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
