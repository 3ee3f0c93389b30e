import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  CONTROL_SOCKET_NAME,
  type ControlRequest,
  type ControlResponse,
} from '../../meter-agent/control/control-protocol.js';

// Drives many agents' control sockets at a high rate: one connection per agent, kept open, with
// requests pipelined on it (the control protocol answers one JSON line per request, in order).
// `controlRequest` opens a connection per request, which at thousands of changes a second would
// measure connection set-up rather than the meters.

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface Connection {
  socket: Socket;
  pending: Pending[];
  buffered: string;
}

export interface ControlPool {
  request(dataDir: string, request: ControlRequest, timeoutMs?: number): Promise<unknown>;
  close(): void;
}

export function createControlPool(): ControlPool {
  const connections = new Map<string, Connection>();

  const fail = (dataDir: string, connection: Connection, error: Error) => {
    if (connections.get(dataDir) === connection) connections.delete(dataDir);
    for (const p of connection.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    connection.socket.destroy();
  };

  const open = (dataDir: string): Connection => {
    const existing = connections.get(dataDir);
    if (existing) return existing;
    const socket = connect(join(dataDir, CONTROL_SOCKET_NAME));
    const connection: Connection = { socket, pending: [], buffered: '' };
    connections.set(dataDir, connection);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      connection.buffered += chunk;
      let newline = connection.buffered.indexOf('\n');
      while (newline !== -1) {
        const line = connection.buffered.slice(0, newline);
        connection.buffered = connection.buffered.slice(newline + 1);
        const p = connection.pending.shift();
        if (p) {
          clearTimeout(p.timer);
          try {
            const response = JSON.parse(line) as ControlResponse;
            if (response.ok) p.resolve(response.result);
            else p.reject(new Error(`${dataDir}: ${response.error}`));
          } catch {
            p.reject(new Error(`${dataDir}: an answer that is not JSON`));
          }
        }
        newline = connection.buffered.indexOf('\n');
      }
    });
    socket.on('error', (error) => fail(dataDir, connection, error));
    socket.on('close', () => fail(dataDir, connection, new Error(`${dataDir}: control closed`)));
    return connection;
  };

  return {
    request(dataDir, request, timeoutMs = 10_000) {
      const connection = open(dataDir);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          fail(dataDir, connection, new Error(`${dataDir}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        connection.pending.push({ resolve, reject, timer });
        connection.socket.write(`${JSON.stringify(request)}\n`);
      });
    },
    close() {
      for (const [dataDir, connection] of [...connections]) {
        fail(dataDir, connection, new Error('control pool closed'));
      }
    },
  };
}
