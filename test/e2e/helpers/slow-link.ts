import { createConnection, createServer, type Socket } from 'node:net';

// A slow link for real: a TCP relay on loopback that holds every chunk `delayMs` in each
// direction (a cellular modem, a satellite hop). TLS passes through untouched, so the meter
// still verifies the server's certificate end to end.

export interface SlowLink {
  readonly port: number;
  /** Changes the delay from now on (a link that becomes congested after the login). */
  setDelay(delayMs: number): void;
  close(): Promise<void>;
}

export async function startSlowLink(options: {
  targetHost: string;
  targetPort: number;
  delayMs: number;
}): Promise<SlowLink> {
  const sockets = new Set<Socket>();
  let delayMs = options.delayMs;
  const delayed = (from: Socket, to: Socket) => {
    // Each chunk leaves at its arrival time plus the delay, never before the chunk ahead of it.
    let lastDue = 0;
    from.on('data', (chunk) => {
      const due = Math.max(Date.now() + delayMs, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, due - Date.now());
    });
    from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, lastDue - Date.now())));
    from.on('error', () => to.destroy());
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: options.targetHost, port: options.targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
    }
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    setDelay(ms) {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
