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

/**
 * A request to the stack's HTTP API as its admin: `Authorization: Bearer <stack.apiToken>`
 * (docs/http-auth.md). `path` starts with `/`; a JSON body is sent as JSON.
 */
export function apiFetch(
  stack: Stack,
  path: string,
  init: Omit<RequestInit, 'body'> & { body?: unknown } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${stack.apiToken}`);
  let body = init.body as RequestInit['body'];
  if (init.body !== undefined && !isRawBody(init.body)) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.body);
  }
  return fetch(`${stack.apiUrl}${path}`, { ...init, headers, body });
}

function isRawBody(body: unknown): boolean {
  return typeof body === 'string' || body instanceof Uint8Array || body instanceof URLSearchParams;
}

/** GET `path` as the stack's admin; anything but 2xx throws with the answer. */
export async function getJson<T>(stack: Stack, path: string): Promise<T> {
  const res = await apiFetch(stack, path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export const getMeter = (stack: Stack, id: string) =>
  getJson<MeterView & { protocolErrors: Array<{ error: string }> }>(stack, `/api/meters/${id}`);

export const getHistory = async (stack: Stack, id: string) =>
  (await getJson<{ changes: HistoryRow[] }>(stack, `/api/meters/${id}/history`)).changes;

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
