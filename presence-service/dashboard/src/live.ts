import type { MeterState, Reason } from './states.js';

// The live feed: GET /api/events (Server-Sent Events, one `state` event per recorded change).
// EventSource resumes by itself with Last-Event-ID after a network blip; when the server ends
// the stream for good (a 401 once the session ended, a restart) we open a new one from the last
// id we saw, so no change is missed within the server's replay bound. A `resync` event means
// more was missed than it replays: every view then reloads what it shows.

export interface Change {
  id: number;
  meterId: string;
  prevState: MeterState | null;
  state: MeterState;
  reason: Reason | null;
  seq: number | null;
  since: string | null;
  receivedAt: string;
  source: string;
}

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

type Listener = (change: Change) => void;

export interface LiveFeed {
  subscribe(listener: Listener): () => void;
  onResync(listener: () => void): () => void;
  onStatus(listener: (status: LiveStatus) => void): () => void;
  start(): void;
  stop(): void;
}

const RECONNECT_MS = [1000, 2000, 5000, 10_000];

export function createLiveFeed(deps: { stillSignedIn: () => Promise<boolean> }): LiveFeed {
  const listeners = new Set<Listener>();
  const resyncListeners = new Set<() => void>();
  const statusListeners = new Set<(status: LiveStatus) => void>();
  let source: EventSource | null = null;
  let lastId: number | null = null;
  let attempt = 0;
  let timer: number | undefined;
  let stopped = true;

  const setStatus = (status: LiveStatus) => {
    for (const listener of statusListeners) listener(status);
  };

  const open = () => {
    const url = lastId === null ? '/api/events' : `/api/events?lastEventId=${lastId}`;
    const es = new EventSource(url);
    source = es;
    setStatus(attempt === 0 ? 'connecting' : 'reconnecting');
    es.addEventListener('open', () => {
      attempt = 0;
      setStatus('live');
    });
    es.addEventListener('state', (event) => {
      const message = event as MessageEvent<string>;
      const change = JSON.parse(message.data) as Change;
      lastId = change.id;
      for (const listener of listeners) listener(change);
    });
    es.addEventListener('resync', () => {
      for (const listener of resyncListeners) listener();
    });
    es.addEventListener('error', () => {
      if (es.readyState !== EventSource.CLOSED) {
        setStatus('reconnecting'); // EventSource retries by itself
        return;
      }
      es.close();
      if (stopped) return;
      setStatus('reconnecting');
      const delay = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)] as number;
      attempt += 1;
      timer = window.setTimeout(async () => {
        // A closed stream is often a session that ended: then the page goes to sign-in.
        if (await deps.stillSignedIn().catch(() => true)) {
          if (!stopped) open();
        }
      }, delay);
    });
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onResync(listener) {
      resyncListeners.add(listener);
      return () => resyncListeners.delete(listener);
    },
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    start() {
      if (!stopped) return;
      stopped = false;
      attempt = 0;
      open();
    },
    stop() {
      stopped = true;
      window.clearTimeout(timer);
      source?.close();
      source = null;
      lastId = null;
    },
  };
}
