import {
  type AccessControl,
  createAccessControl,
} from '../../../presence-service/auth/access-control.js';
import type { Database } from '../../../presence-service/store/database.js';
import type { Role } from '../../../src/protocol/commands.js';

// Access control for tests that build the HTTP API (buildHttpApi needs it): one user per role,
// each with an API token, so a test sends `headers: as('operator')` and is that user. The users
// have no usable password (sign-in is tested in auth-*.test.ts): hashing is the slow part.

export interface TestAuth {
  auth: AccessControl;
  /** `{ authorization: 'Bearer …' }` of the test user with that role (user `test-<role>`). */
  as(role: Role): { authorization: string };
}

export function createTestAuth(
  db: Database,
  options: Omit<Parameters<typeof createAccessControl>[0], 'db'> = {},
): TestAuth {
  const auth = createAccessControl({ db, ...options });
  const headers = new Map<Role, { authorization: string }>();
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    const user = auth.users.add({ username: `test-${role}`, role, passwordHash: 'unusable' });
    const { token } = auth.tokens.create(user.id, { label: 'unit test' });
    headers.set(role, { authorization: `Bearer ${token}` });
  }
  return { auth, as: (role) => headers.get(role) as { authorization: string } };
}
