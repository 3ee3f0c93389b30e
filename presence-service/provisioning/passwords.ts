import { randomBytes } from 'node:crypto';

// Meter account passwords. The service never stores them: they are shown once (`meters add`)
// or written to a 0600 credentials file (`meters import`) for the installer of the meter.

/** 18 random bytes = 144 bits, 24 base64url characters: safe in CSV, JSON, shells and SASL. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;

/** Why a password given by a person is unusable, or undefined if it is fine. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  // RFC 8265 §4.1 (OpaqueString, used by SCRAM via SASLprep) forbids control characters.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'password must not contain control characters';
  return undefined;
}
