// Failures of the access-control stores (docs/http-auth.md), with stable codes (STYLE §5). The
// HTTP routes answer them with the same code (docs/errors.md); the CLI prints the message.

export const AUTH_ERROR_STATUS = {
  /** No user of that name. */
  'user-unknown': 404,
  /** A user of that name exists already (names are case-insensitive). */
  'user-exists': 409,
  /** The change would leave no admin: nobody could manage users any more. */
  'last-admin': 409,
  /** No API token with that id (or not one of the caller's). */
  'token-unknown': 404,
  /** A username or password that breaks the rules. */
  'bad-request': 400,
} as const;

export type AuthErrorCode = keyof typeof AUTH_ERROR_STATUS;

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}
