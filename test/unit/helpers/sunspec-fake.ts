import {
  ModbusExceptionError,
  type RegisterReader,
} from '../../../meter-agent/meter/modbus/register-reader.js';
import {
  METER_MODEL_LENGTH,
  METER_POINTS,
} from '../../../meter-agent/meter/modbus/sunspec-meter-model.js';

// In-memory SunSpec devices for unit tests: a meter model block built from named points, a map
// of models behind "SunS", and a RegisterReader over it that answers like a device (exception 2
// for registers that are not there).

type MeterPointName = keyof typeof METER_POINTS;
const WIDE_POINTS: ReadonlySet<MeterPointName> = new Set(['TotWhExp', 'TotWhImp', 'Evt']);

/** Models 201-204 with every point "not implemented" except those given (raw values). */
export function meterBlock(points: Partial<Record<MeterPointName, number>>): number[] {
  const block = new Array<number>(METER_MODEL_LENGTH).fill(0x8000);
  // acc32 not accumulated is 0; bitfield32 not implemented is 0xFFFFFFFF.
  for (const offset of [36, 38, 40, 42, 44, 46, 48, 50]) block.fill(0, offset, offset + 2);
  block[METER_POINTS.Evt] = 0xffff;
  block[METER_POINTS.Evt + 1] = 0xffff;
  for (const [name, value] of Object.entries(points) as [MeterPointName, number][]) {
    const offset = METER_POINTS[name];
    if (WIDE_POINTS.has(name)) {
      const unsigned = value >>> 0;
      block[offset] = unsigned >>> 16;
      block[offset + 1] = unsigned & 0xffff;
    } else {
      block[offset] = value & 0xffff;
    }
  }
  return block;
}

/** ASCII, two bytes a register, NUL padded to `length` registers. */
export function stringRegisters(text: string, length: number): number[] {
  const bytes = Buffer.alloc(length * 2);
  bytes.write(text, 'latin1');
  return Array.from({ length }, (_, i) => bytes.readUInt16BE(i * 2));
}

export function commonBlock(identity: {
  manufacturer: string;
  model: string;
  version: string;
  serial: string;
}): number[] {
  return [
    ...stringRegisters(identity.manufacturer, 16),
    ...stringRegisters(identity.model, 16),
    ...stringRegisters('', 8),
    ...stringRegisters(identity.version, 8),
    ...stringRegisters(identity.serial, 16),
    1,
    0x8000,
  ];
}

/** "SunS", then each model's header and data, then the end model (unless `noEnd`). */
export function sunspecMap(
  base: number,
  models: Array<{ id: number; block: number[] }>,
  options: { noEnd?: boolean } = {},
): Map<number, number> {
  const registers = new Map<number, number>();
  const put = (address: number, values: number[]) => {
    for (const [i, value] of values.entries()) registers.set(address + i, value);
  };
  put(base, [0x5375, 0x6e53]);
  let address = base + 2;
  for (const model of models) {
    put(address, [model.id, model.block.length]);
    put(address + 2, model.block);
    address += 2 + model.block.length;
  }
  if (!options.noEnd) put(address, [0xffff, 0]);
  return registers;
}

export interface FakeReader extends RegisterReader {
  readonly requests: Array<{ address: number; count: number }>;
}

export function fakeReader(registers: Map<number, number>): FakeReader {
  const requests: Array<{ address: number; count: number }> = [];
  return {
    requests,
    async read(address, count) {
      requests.push({ address, count });
      if (count > 125) throw new ModbusExceptionError(3, `illegal data value: ${count} registers`);
      const out: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const value = registers.get(address + i);
        if (value === undefined) {
          throw new ModbusExceptionError(2, `illegal data address ${address + i}`);
        }
        out.push(value);
      }
      return out;
    },
  };
}
