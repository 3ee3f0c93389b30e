import { CommandError, type RawArgs } from './command.js';

// Reading one form field's raw strings into a value, the same for both doors: a bad value is
// CommandError('bad-request') whose text starts with the field's name (PROTOCOL §4).

export { commandNode } from '../../src/protocol/commands.js';

export function badField(field: string, problem: string): CommandError {
  return new CommandError('bad-request', `${field}: ${problem}`, field);
}

/** The field's single value, trimmed; undefined when absent or empty. */
export function singleValue(raw: RawArgs, field: string): string | undefined {
  const values = (raw[field] ?? []).map((v) => v.trim()).filter((v) => v !== '');
  if (values.length > 1) throw badField(field, 'give one value');
  return values[0];
}

export function requiredValue(raw: RawArgs, field: string): string {
  const value = singleValue(raw, field);
  if (value === undefined) throw badField(field, 'a value is required');
  return value;
}

/** XEP-0004 §3.3 boolean: '1'/'true' or '0'/'false'. */
export function booleanValue(raw: RawArgs, field: string, fallback?: boolean): boolean {
  const value = singleValue(raw, field);
  if (value === undefined) {
    if (fallback === undefined) throw badField(field, 'a value is required (true or false)');
    return fallback;
  }
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw badField(field, `'${clip(value)}' is not a boolean (true or false)`);
}

/** A whole number in [min, max]; undefined when absent and no fallback is given. */
export function integerValue(
  raw: RawArgs,
  field: string,
  range: { min: number; max: number; fallback?: number },
): number {
  const value = singleValue(raw, field);
  if (value === undefined) {
    if (range.fallback === undefined) throw badField(field, 'a value is required');
    return range.fallback;
  }
  if (!/^\d{1,9}$/.test(value)) throw badField(field, `'${clip(value)}' is not a whole number`);
  const n = Number(value);
  if (n < range.min || n > range.max) {
    throw badField(field, `${n} is out of range (${range.min}-${range.max})`);
  }
  return n;
}

/** A plain decimal (no exponent, no sign) greater than zero and at most `max`. */
export function positiveDecimalValue(raw: RawArgs, field: string, max: number): number {
  const value = requiredValue(raw, field);
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(value)) {
    throw badField(field, `'${clip(value)}' is not a decimal number`);
  }
  const n = Number(value);
  if (n <= 0) throw badField(field, 'must be greater than 0');
  if (n > max) throw badField(field, `${n} is above the maximum of ${max}`);
  return n;
}

/** A field value quoted back in a message: never more than a short line. */
export function clip(value: string, max = 40): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
