// STYLE §5: our own failures are typed errors with stable codes, listed in docs/errors.md.

export const ERROR_CODES = {
  CONFIG_INVALID: 'GP_CONFIG_INVALID',
  CONFIG_UNREADABLE: 'GP_CONFIG_UNREADABLE',
  AUTH_FAILED: 'GP_AUTH_FAILED',
  PROSODY_MISSING: 'GP_PROSODY_MISSING',
  PROSODY_START_FAILED: 'GP_PROSODY_START_FAILED',
  PROVISIONING_FAILED: 'GP_PROVISIONING_FAILED',
  METER_UNKNOWN: 'GP_METER_UNKNOWN',
  METER_EXISTS: 'GP_METER_EXISTS',
  AGENT_NOT_RUNNING: 'GP_AGENT_NOT_RUNNING',
  AGENT_ALREADY_RUNNING: 'GP_AGENT_ALREADY_RUNNING',
  IMPORT_INVALID: 'GP_IMPORT_INVALID',
  GROUP_UNKNOWN: 'GP_GROUP_UNKNOWN',
  GROUP_BUSY: 'GP_GROUP_BUSY',
  SCHEDULE_UNKNOWN: 'GP_SCHEDULE_UNKNOWN',
  SCHEDULE_BUSY: 'GP_SCHEDULE_BUSY',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class GridpresenceError extends Error {
  readonly code: ErrorCode;
  /** What the person should do next; printed by the CLIs under the message. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GridpresenceError';
    this.code = code;
    this.hint = options.hint;
  }
}

/** Exit codes shared by every CLI. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  CONFIG: 2,
  AUTH: 3,
  UNAVAILABLE: 4,
} as const;
