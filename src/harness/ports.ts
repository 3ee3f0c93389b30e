import { connect, createServer, type Server } from 'node:net';

// TCP port helpers for the harness, all on 127.0.0.1 where the harness Prosody listens.

const HOST = '127.0.0.1';

/**
 * `count` distinct free ports, chosen by the kernel (bind to port 0). All listeners stay open
 * until every port is known, so the kernel cannot hand out the same port twice.
 */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(await listen(server, 0));
    }
    return ports;
  } finally {
    await Promise.all(servers.map(close));
  }
}

/**
 * The ports of `ports` something else already listens on. Prosody only logs a failed bind and
 * keeps running, and our readiness probe would then talk to the other program: check first.
 */
export async function portsInUse(ports: readonly number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) {
    const server = createServer();
    try {
      await listen(server, port);
    } catch {
      busy.push(port);
    } finally {
      await close(server);
    }
  }
  return busy;
}

/** True when a TCP connection to HOST:port is accepted. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface WaitForPortsOptions {
  deadlineMs: number;
  pollMs?: number;
  /** Checked between polls; a reason string stops the wait (e.g. "the process exited"). */
  abortReason?: () => string | undefined;
}

/** Resolves when every port accepts connections; rejects with a reason otherwise. */
export async function waitForPorts(
  ports: readonly number[],
  options: WaitForPortsOptions,
): Promise<void> {
  const giveUpAt = Date.now() + options.deadlineMs;
  let pending = [...ports];
  for (;;) {
    const results = await Promise.all(pending.map(acceptsConnections));
    pending = pending.filter((_, i) => !results[i]);
    if (pending.length === 0) return;
    const aborted = options.abortReason?.();
    if (aborted) throw new Error(aborted);
    if (Date.now() >= giveUpAt) {
      throw new Error(`port(s) ${pending.join(', ')} not listening after ${options.deadlineMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port, exclusive: true }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}
