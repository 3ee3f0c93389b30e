// SunSpec point types as they sit in Modbus holding registers (SunSpec Information Model
// Specification, "Data types"): big-endian 16-bit registers, 32-bit values high word first,
// strings two ASCII bytes per register padded with NUL, and one "not implemented" pattern per
// type. Every decoder returns null for "not implemented", so the caller never scales a sentinel.

/** int16 / sunssf not implemented. */
export const NOT_IMPLEMENTED_INT16 = 0x8000;
/** uint16 / enum16 / bitfield16 not implemented. */
export const NOT_IMPLEMENTED_UINT16 = 0xffff;
/** int32 not implemented. */
export const NOT_IMPLEMENTED_INT32 = 0x8000_0000;
/** uint32 / bitfield32 not implemented. */
export const NOT_IMPLEMENTED_UINT32 = 0xffff_ffff;

/** The registers of one model (without its ID/L header), read from offset 0. */
export type ModelBlock = readonly number[];

function word(block: ModelBlock, offset: number): number {
  const value = block[offset];
  if (value === undefined) {
    throw new RangeError(`register offset ${offset} is outside the model (length ${block.length})`);
  }
  return value & 0xffff;
}

export function uint16(block: ModelBlock, offset: number): number | null {
  const raw = word(block, offset);
  return raw === NOT_IMPLEMENTED_UINT16 ? null : raw;
}

export function int16(block: ModelBlock, offset: number): number | null {
  const raw = word(block, offset);
  if (raw === NOT_IMPLEMENTED_INT16) return null;
  return raw >= 0x8000 ? raw - 0x1_0000 : raw;
}

/**
 * A scale factor: the power of ten the points that name it are multiplied by. SunSpec allows
 * -10..10; anything else is treated as not implemented rather than trusted.
 */
export function sunssf(block: ModelBlock, offset: number): number | null {
  const value = int16(block, offset);
  if (value === null || value < -10 || value > 10) return null;
  return value;
}

function raw32(block: ModelBlock, offset: number): number {
  // Multiplication, not `<<`, keeps the result an unsigned number above 2^31.
  return word(block, offset) * 0x1_0000 + word(block, offset + 1);
}

export function uint32(block: ModelBlock, offset: number): number | null {
  const raw = raw32(block, offset);
  return raw === NOT_IMPLEMENTED_UINT32 ? null : raw;
}

export function int32(block: ModelBlock, offset: number): number | null {
  const raw = raw32(block, offset);
  if (raw === NOT_IMPLEMENTED_INT32) return null;
  return raw >= 0x8000_0000 ? raw - 0x1_0000_0000 : raw;
}

/**
 * acc32: a free-running accumulator. SunSpec's "not accumulated" value is 0, which a new meter
 * also legitimately reads, so 0 is returned as 0: reporting 0 kWh for a meter that does not
 * accumulate is harmless, and dropping a real 0 would not be.
 */
export function acc32(block: ModelBlock, offset: number): number {
  return raw32(block, offset);
}

export function bitfield32(block: ModelBlock, offset: number): number | null {
  return uint32(block, offset);
}

/** A string point of `length` registers: ASCII, NUL padded (also trimmed of spaces). */
export function sunspecString(block: ModelBlock, offset: number, length: number): string {
  const bytes: number[] = [];
  for (let i = 0; i < length; i += 1) {
    const value = word(block, offset + i);
    bytes.push(value >> 8, value & 0xff);
  }
  const end = bytes.indexOf(0);
  return Buffer.from(end === -1 ? bytes : bytes.slice(0, end))
    .toString('latin1')
    .trim();
}

/**
 * value × 10^sf, or null when either is not implemented. Negative factors divide, so 2301 with
 * -1 gives exactly 230.1 (multiplying by 0.1 would give 230.10000000000002).
 */
export function scaled(value: number | null, sf: number | null): number | null {
  if (value === null || sf === null) return null;
  return sf >= 0 ? value * 10 ** sf : value / 10 ** -sf;
}
