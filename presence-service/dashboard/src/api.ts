// The dashboard's one door to the HTTP API: JSON in and out, the session's CSRF token on every
// change (docs/http-auth.md), and one place that notices a session that has ended.

export type Role = 'viewer' | 'operator' | 'admin';

export interface User {
  username: string;
  role: Role;
}

export interface Session {
  user: User;
  csrfToken: string;
}

/** An answer other than 2xx, with the API's stable error code (docs/errors.md). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
let onSignedOut: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when any request finds the session gone (401). */
export function onSessionEnded(handler: () => void): void {
  onSignedOut = handler;
}

export async function api<T>(
  path: string,
  options: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: options.body === undefined ? null : JSON.stringify(options.body),
    signal: options.signal ?? null,
  });
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    const failure = new ApiError(
      response.status,
      error?.code ?? `http-${response.status}`,
      error?.message ?? `${method} ${path}: HTTP ${response.status}`,
      body,
    );
    if (response.status === 401 && !path.startsWith('/api/session')) onSignedOut();
    throw failure;
  }
  return body as T;
}

/** The signed-in session, or null when nobody is; throws when the service has no sign-in. */
export async function currentSession(): Promise<Session | null> {
  try {
    const session = await api<Session | { user: null }>('/api/session');
    return session.user ? (session as Session) : null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signIn(username: string, password: string): Promise<Session> {
  return api<Session>('/api/session', { method: 'POST', body: { username, password } });
}

export async function signOut(): Promise<void> {
  await api<void>('/api/session', { method: 'DELETE' });
}

export function mayCommand(user: User | null): boolean {
  return user !== null && (user.role === 'operator' || user.role === 'admin');
}

/** Query string from the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
