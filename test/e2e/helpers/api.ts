import type { Stack } from '../../../src/stack/start-stack.js';
import { waitFor } from '../../../src/stack/wait.js';

export interface MeterView {
  id: string;
  state: string;
  reason: { code: string; text: string | null } | null;
  seq: number | null;
  since: string | null;
  receivedAt: string | null;
  lastSeenAt: string | null;
}

export interface HistoryRow {
  id: number;
  prevState: string | null;
  state: string;
  reason: { code: string; text: string | null } | null;
  seq: number | null;
  source: string;
  gap: number;
  receivedAt: string;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export const getMeter = (stack: Stack, id: string) =>
  getJson<MeterView & { protocolErrors: Array<{ error: string }> }>(
    `${stack.apiUrl}/api/meters/${id}`,
  );

export const getHistory = async (stack: Stack, id: string) =>
  (await getJson<{ changes: HistoryRow[] }>(`${stack.apiUrl}/api/meters/${id}/history`)).changes;

/** Waits until the service records the meter in `state` (and reason, when given). */
export function waitForRecordedState(
  stack: Stack,
  id: string,
  state: string,
  reasonCode?: string,
  timeoutMs = 10_000,
): Promise<MeterView> {
  return waitFor(
    `${id} to be recorded ${state}${reasonCode ? `/${reasonCode}` : ''}`,
    async () => {
      const meter = await getMeter(stack, id);
      const matches =
        meter.state === state && (reasonCode === undefined || meter.reason?.code === reasonCode);
      return matches ? meter : undefined;
    },
    timeoutMs,
    50,
  );
}
