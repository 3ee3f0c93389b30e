/**
 * A minimal Server-Sent Events reader over fetch, for tests and measurement scripts. `headers`
 * go with the request: the API wants `Authorization: Bearer <token>` (docs/http-auth.md).
 */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
  /** Wall-clock ms (sub-ms precision) when the event was parsed. */
  receivedAtMs: number;
}

export interface SseConnection {
  close(): void;
  /** How often the stream was resumed after the server ended it (`resume` only). */
  readonly resumes: number;
}

export interface SseOptions {
  /**
   * When the server ends the stream (e.g. the service cuts a reader that falls behind), open it
   * again with Last-Event-ID so nothing is missed; the replayed events arrive late, and count so.
   */
  resume?: boolean;
}

export async function connectSse(
  url: string,
  onEvent: (event: SseEvent) => void,
  headers: Record<string, string> = {},
  options: SseOptions = {},
): Promise<SseConnection> {
  const controller = new AbortController();
  let lastId: string | undefined;
  let resumes = 0;
  const open = async () => {
    const response = await fetch(url, {
      headers: {
        ...headers,
        accept: 'text/event-stream',
        ...(lastId !== undefined && { 'last-event-id': lastId }),
      },
      signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
    return response.body.pipeThrough(new TextDecoderStream()).getReader();
  };
  let reader = await open();
  void (async () => {
    for (;;) {
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const parsed = parseBlock(block);
            if (parsed) {
              if (parsed.id !== undefined) lastId = parsed.id;
              onEvent(parsed);
            }
            end = buffer.indexOf('\n\n');
          }
        }
      } catch {
        // aborted by close(), or the connection broke
      }
      if (!options.resume || controller.signal.aborted) return;
      try {
        reader = await open();
        resumes += 1;
      } catch {
        return; // closed meanwhile, or the server is gone
      }
    }
  })();
  return {
    close: () => controller.abort(),
    get resumes() {
      return resumes;
    },
  };
}

function parseBlock(block: string): SseEvent | undefined {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  return {
    id,
    event,
    data: data.join('\n'),
    receivedAtMs: performance.timeOrigin + performance.now(),
  };
}
