// STYLE §5: failures of a meter control have stable codes the agent maps to protocol answers
// (PROTOCOL §4: a command the current state forbids gets cancel/not-allowed).

export type MeterControlErrorCode = 'relay-lockout' | 'not-supported';

export class MeterControlError extends Error {
  readonly code: MeterControlErrorCode;

  constructor(code: MeterControlErrorCode, message: string) {
    super(message);
    this.name = 'MeterControlError';
    this.code = code;
  }
}

export function isMeterControlError(value: unknown): value is MeterControlError {
  return value instanceof MeterControlError;
}
