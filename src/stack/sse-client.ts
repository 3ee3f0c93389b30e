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
}

export async function connectSse(
  url: string,
  onEvent: (event: SseEvent) => void,
  headers: Record<string, string> = {},
): Promise<SseConnection> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { ...headers, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const parsed = parseBlock(block);
          if (parsed) onEvent(parsed);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { close: () => controller.abort() };
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
