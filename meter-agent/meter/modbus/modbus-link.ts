// One Modbus TCP connection to one unit, over modbus-serial's client (ModbusRTU.connectTCP):
// a bounded connect, holding-register reads with a per-request timeout, and failures turned
// into typed errors with messages a technician can act on. No retries here: the driver and the
// probe decide what a failure means.

import modbusSerial from 'modbus-serial';
import { ModbusExceptionError, type RegisterReader } from './register-reader.js';

// modbus-serial is CommonJS whose typings declare `export default`; under NodeNext the class is
// the namespace's `default` (the package sets module.exports.default to itself for this).
const ModbusRTU = modbusSerial.default;

export interface ModbusLinkOptions {
  host: string;
  port: number;
  unitId: number;
  /** Bound on the connect and on each request. */
  timeoutMs: number;
}

export type ModbusLinkErrorCode = 'connection-refused' | 'timeout' | 'unreachable' | 'closed';

/** The link itself failed (as opposed to the device answering with a Modbus exception). */
export class ModbusLinkError extends Error {
  readonly code: ModbusLinkErrorCode;

  constructor(code: ModbusLinkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModbusLinkError';
    this.code = code;
  }
}

export interface ModbusLink extends RegisterReader {
  readonly isOpen: boolean;
  /** Drops the connection at once; idempotent. */
  close(): void;
}

export async function openModbusLink(options: ModbusLinkOptions): Promise<ModbusLink> {
  const { host, port, unitId, timeoutMs } = options;
  const where = `${host}:${port}`;
  const client = new ModbusRTU();
  // A socket error also fails the request in flight, which is where we report it; without a
  // listener an 'error' event would crash the process.
  client.on('error', () => {});
  client.setID(unitId);
  client.setTimeout(timeoutMs);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    client.destroy(() => {});
  };

  try {
    await withTimeout(
      client.connectTCP(host, { port }),
      timeoutMs,
      () =>
        new ModbusLinkError('timeout', `connecting to ${where} timed out after ${timeoutMs} ms`),
    );
  } catch (error) {
    close();
    throw toLinkError(error, `connecting to ${where}`, timeoutMs);
  }

  return {
    get isOpen() {
      return !closed && client.isOpen;
    },
    close,
    async read(address, count) {
      if (closed) throw new ModbusLinkError('closed', `the link to ${where} is closed`);
      try {
        const answer = await client.readHoldingRegisters(address, count);
        return answer.data;
      } catch (error) {
        throw toLinkError(
          error,
          `reading ${count} registers at ${address} from unit ${unitId} at ${where}`,
          timeoutMs,
        );
      }
    },
  };
}

/** Rejects after `ms` unless `promise` settles first; a late rejection is swallowed. */
async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  promise.catch(() => {});
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const UNREACHABLE = new Set([
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** modbus-serial's and Node's errors as ours, named by what happened to whom. */
export function toLinkError(error: unknown, doing: string, timeoutMs: number): Error {
  if (error instanceof ModbusLinkError || error instanceof ModbusExceptionError) return error;
  const e = (error ?? {}) as {
    name?: string;
    code?: unknown;
    errno?: unknown;
    message?: string;
    modbusCode?: unknown;
  };
  const message = e.message ?? String(error);
  if (typeof e.modbusCode === 'number') {
    return new ModbusExceptionError(
      e.modbusCode,
      `${doing}: Modbus exception ${e.modbusCode} (${message})`,
    );
  }
  const code = typeof e.code === 'string' ? e.code : typeof e.errno === 'string' ? e.errno : '';
  if (e.name === 'PortNotOpenError') {
    return new ModbusLinkError('closed', `${doing}: the connection is closed`, { cause: error });
  }
  if (code === 'ECONNREFUSED') {
    return new ModbusLinkError('connection-refused', `${doing}: connection refused`, {
      cause: error,
    });
  }
  if (code === 'ETIMEDOUT' || /timed out/i.test(message)) {
    return new ModbusLinkError('timeout', `${doing}: timed out after ${timeoutMs} ms`, {
      cause: error,
    });
  }
  if (UNREACHABLE.has(code)) {
    return new ModbusLinkError('unreachable', `${doing}: ${code} (${message})`, { cause: error });
  }
  if (CLOSED.has(code)) {
    return new ModbusLinkError('closed', `${doing}: connection lost (${code})`, { cause: error });
  }
  return new ModbusLinkError('closed', `${doing}: ${message}`, { cause: error });
}
