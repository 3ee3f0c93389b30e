import { connect } from 'node:net';
import { join } from 'node:path';
import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import {
  CONTROL_SOCKET_NAME,
  type ControlRequest,
  type ControlResponse,
} from './control-protocol.js';

/** Sends one request to a running agent's control socket and returns its result. */
export function controlRequest(
  dataDir: string,
  request: ControlRequest,
  timeoutMs = 5_000,
): Promise<unknown> {
  const path = join(dataDir, CONTROL_SOCKET_NAME);
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from the agent at ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      socket.end();
      let response: ControlResponse;
      try {
        response = JSON.parse(buffered.slice(0, newline)) as ControlResponse;
      } catch {
        reject(new Error(`the agent at ${path} sent an answer that is not JSON`));
        return;
      }
      if (response.ok) resolve(response.result);
      else reject(new Error(response.error));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
        reject(
          new GridpresenceError(
            ERROR_CODES.AGENT_NOT_RUNNING,
            `no agent is running for ${dataDir}`,
            {
              hint: 'start it with `meter-agent run --config <file>`, or check dataDir in the config',
            },
          ),
        );
      } else {
        reject(error);
      }
    });
  });
}
