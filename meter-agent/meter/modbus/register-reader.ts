// What the SunSpec code needs from a Modbus link: holding registers (function code 3) by
// address. The real link (modbus-link.ts) and the unit tests' in-memory maps both provide it,
// so discovery and decoding are tested without sockets (STYLE §7).

export interface RegisterReader {
  /** `count` holding registers from `address`; rejects on timeout, exception or a lost link. */
  read(address: number, count: number): Promise<number[]>;
}

/** Modbus allows at most 125 registers in one read (Modbus Application Protocol §6.3). */
export const MAX_REGISTERS_PER_READ = 125;

/** A read of any length, split into requests of at most 125 registers, one after another. */
export async function readSpan(
  reader: RegisterReader,
  address: number,
  count: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let done = 0; done < count; done += MAX_REGISTERS_PER_READ) {
    const size = Math.min(MAX_REGISTERS_PER_READ, count - done);
    const values = await reader.read(address + done, size);
    if (values.length < size) {
      throw new Error(
        `short answer at register ${address + done}: ${values.length} of ${size} registers`,
      );
    }
    out.push(...values.slice(0, size));
  }
  return out;
}

/**
 * The device answered, with a Modbus exception (e.g. 2, illegal data address): the link is fine,
 * the registers are not there. Anything else a read rejects with is a link failure.
 */
export class ModbusExceptionError extends Error {
  readonly exceptionCode: number;

  constructor(exceptionCode: number, message: string) {
    super(message);
    this.name = 'ModbusExceptionError';
    this.exceptionCode = exceptionCode;
  }
}
