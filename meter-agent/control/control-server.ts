import { chmodSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import {
  CONTROL_SOCKET_NAME,
  type ControlRequest,
  type ControlResponse,
  controlRequestSchema,
} from './control-protocol.js';

const MAX_LINE_BYTES = 16 * 1024;

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Two agents on one dataDir would share a seq file and knock each other off the server (same
 * JID and resource) in a loop: the second one refuses to start while the first answers.
 */
export async function refuseSecondAgent(dataDir: string): Promise<void> {
  const path = join(dataDir, CONTROL_SOCKET_NAME);
  const answering = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answering) {
    throw new GridpresenceError(
      ERROR_CODES.AGENT_ALREADY_RUNNING,
      `another agent is already running for ${dataDir}`,
      {
        hint: 'stop it first (`meter-agent status` shows its pid), or give this one its own dataDir',
      },
    );
  }
}

export async function startControlServer(deps: {
  dataDir: string;
  logger: Logger;
  handle: (request: ControlRequest) => unknown;
}): Promise<ControlServer> {
  const { logger, handle } = deps;
  const path = join(deps.dataDir, CONTROL_SOCKET_NAME);
  // A socket file left by a killed agent would make listen() fail with EADDRINUSE.
  rmSync(path, { force: true });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      if (buffered.length > MAX_LINE_BYTES) {
        reply(socket, { ok: false, error: 'request too large' });
        socket.end();
        return;
      }
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        reply(socket, answer(line, handle, logger));
        newline = buffered.indexOf('\n');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function answer(
  line: string,
  handle: (request: ControlRequest) => unknown,
  logger: Logger,
): ControlResponse {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  const parsed = controlRequestSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, error: `bad request: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  }
  try {
    return { ok: true, result: handle(parsed.data) };
  } catch (error) {
    logger.warn({ op: parsed.data.op, err: (error as Error).message }, 'control request failed');
    return { ok: false, error: (error as Error).message };
  }
}

function reply(socket: Socket, response: ControlResponse): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
}
