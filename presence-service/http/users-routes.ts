import type { FastifyInstance, FastifyReply } from 'fastify';
import { ROLES, type Role } from '../../src/protocol/commands.js';
import { AUTH_ERROR_STATUS, AuthError } from '../auth/auth-error.js';
import { generatePassword, hashPassword, PASSWORD_RULES } from '../auth/passwords.js';
import { principalOf } from '../auth/principal.js';
import { TOKEN_LIMITS, type TokenStore } from '../auth/token-store.js';
import { USERNAME_PATTERN, type UserRecord, type UserStore } from '../auth/user-store.js';
import { sendError } from './api-errors.js';

// Managing who may use the API (docs/http-auth.md): users with their role and password, and API
// tokens for programs. Admins only (principal.ts), except that any user may list and revoke
// their own tokens: a person who suspects a token leaked should not have to find an admin first.
// Passwords and tokens are shown once, in the answer that makes them.

export interface UsersRoutesDeps {
  users: UserStore;
  tokens: TokenStore;
}

const usernameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  pattern: USERNAME_PATTERN.source,
} as const;
const roleSchema = { type: 'string', enum: [...ROLES] } as const;
const passwordSchema = {
  type: 'string',
  minLength: PASSWORD_RULES.minLength,
  maxLength: PASSWORD_RULES.maxLength,
} as const;

const userView = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: roleSchema,
    createdAt: { type: 'string' },
    passwordChangedAt: { type: 'string' },
  },
} as const;

const tokenView = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    label: { type: 'string' },
    prefix: { type: 'string' },
    createdAt: { type: 'string' },
    lastUsedAt: { type: ['string', 'null'] },
    expiresAt: { type: ['string', 'null'] },
    revokedAt: { type: ['string', 'null'] },
  },
} as const;

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: usernameSchema },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const;

export function registerUsersRoutes(app: FastifyInstance, { users, tokens }: UsersRoutesDeps) {
  app.get(
    '/api/users',
    {
      schema: {
        summary: 'Every user with their role',
        tags: ['access'],
        response: {
          200: { type: 'object', properties: { users: { type: 'array', items: userView } } },
        },
      },
    },
    () => ({ users: users.list().map(showUser) }),
  );

  app.post<{ Body: { username: string; role: Role; password?: string } }>(
    '/api/users',
    {
      schema: {
        summary: 'Add a user; without a password one is generated and returned, once',
        tags: ['access'],
        body: {
          type: 'object',
          required: ['username', 'role'],
          additionalProperties: false,
          properties: { username: usernameSchema, role: roleSchema, password: passwordSchema },
        },
        response: {
          201: {
            type: 'object',
            properties: { user: userView, password: { type: 'string' } },
          },
        },
      },
    },
    async (request, reply) => {
      const { username, role } = request.body;
      const generated = request.body.password === undefined ? generatePassword() : undefined;
      const passwordHash = await hashPassword(request.body.password ?? (generated as string));
      return answer(reply, () => {
        const user = users.add({ username, role, passwordHash });
        request.log.info({ username, role, by: principalOf(request).username }, 'user added');
        reply.code(201);
        return { user: showUser(user), ...(generated !== undefined && { password: generated }) };
      });
    },
  );

  app.patch<{ Params: { name: string }; Body: { role?: Role; password?: string } }>(
    '/api/users/:name',
    {
      schema: {
        summary: "Change a user's role or password (a new password ends their sessions)",
        tags: ['access'],
        params: nameParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { role: roleSchema, password: passwordSchema },
        },
        response: { 200: { type: 'object', properties: { user: userView } } },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const { role, password } = request.body;
      const passwordHash = password === undefined ? undefined : await hashPassword(password);
      return answer(reply, () => {
        let user = users.get(name);
        if (!user) throw new AuthError('user-unknown', `no user '${name}'`);
        if (role !== undefined) user = users.setRole(name, role);
        if (passwordHash !== undefined) user = users.setPassword(name, passwordHash);
        request.log.info(
          {
            username: name,
            role,
            password: password !== undefined,
            by: principalOf(request).username,
          },
          'user changed',
        );
        return { user: showUser(user) };
      });
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api/users/:name',
    {
      schema: {
        summary: 'Remove a user with their sessions and tokens (never the last admin)',
        tags: ['access'],
        params: nameParams,
      },
    },
    (request, reply) =>
      answer(reply, () => {
        users.remove(request.params.name);
        request.log.info(
          { username: request.params.name, by: principalOf(request).username },
          'user removed',
        );
        reply.code(204).send();
      }),
  );

  app.get<{ Querystring: { username?: string } }>(
    '/api/tokens',
    {
      schema: {
        summary:
          "API tokens, newest first: an admin's view has everyone's, anyone else's their own",
        tags: ['access'],
        querystring: { type: 'object', properties: { username: usernameSchema } },
        response: {
          200: { type: 'object', properties: { tokens: { type: 'array', items: tokenView } } },
        },
      },
    },
    (request, reply) =>
      answer(reply, () => {
        const caller = principalOf(request);
        const name = caller.role === 'admin' ? request.query.username : caller.username;
        if (name === undefined) return { tokens: tokens.list() };
        const user = users.get(name);
        if (!user) throw new AuthError('user-unknown', `no user '${name}'`);
        return { tokens: tokens.list({ userId: user.id }) };
      }),
  );

  app.post<{ Body: { label: string; username?: string; expiresInDays?: number } }>(
    '/api/tokens',
    {
      schema: {
        summary: 'A new API token for a user (default: the caller); the token is shown once',
        tags: ['access'],
        body: {
          type: 'object',
          required: ['label'],
          additionalProperties: false,
          properties: {
            label: { type: 'string', minLength: 1, maxLength: TOKEN_LIMITS.labelChars },
            username: usernameSchema,
            expiresInDays: { type: 'number', exclusiveMinimum: 0, maximum: TOKEN_LIMITS.maxDays },
          },
        },
        response: {
          201: {
            type: 'object',
            properties: { token: { type: 'string' }, ...tokenView.properties },
          },
        },
      },
    },
    (request, reply) =>
      answer(reply, () => {
        const { label, expiresInDays } = request.body;
        const name = request.body.username ?? principalOf(request).username;
        const user = users.get(name);
        if (!user) throw new AuthError('user-unknown', `no user '${name}'`);
        const { token, record } = tokens.create(user.id, {
          label,
          ...(expiresInDays !== undefined && { expiresInDays }),
        });
        request.log.info(
          { tokenId: record.id, username: user.username, by: principalOf(request).username },
          'API token created',
        );
        reply.code(201);
        return { token, ...record };
      }),
  );

  app.delete<{ Params: { id: number } }>(
    '/api/tokens/:id',
    {
      schema: {
        summary: 'Revoke an API token (anyone may revoke their own)',
        tags: ['access'],
        params: idParams,
      },
    },
    (request, reply) =>
      answer(reply, () => {
        const caller = principalOf(request);
        const { id } = request.params;
        const record = tokens.get(id);
        // Someone else's token is as unknown to a non-admin as a missing one.
        if (!record || (caller.role !== 'admin' && !sameName(record.username, caller.username))) {
          throw new AuthError('token-unknown', `no API token ${id}`);
        }
        tokens.revoke(id);
        request.log.info({ tokenId: id, by: caller.username }, 'API token revoked');
        reply.code(204).send();
      }),
  );
}

/** Runs a store call; an AuthError becomes its HTTP answer (docs/errors.md). */
function answer<T>(reply: FastifyReply, work: () => T): T | undefined {
  try {
    return work();
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    sendError(reply, AUTH_ERROR_STATUS[error.code], error.code, error.message);
    return undefined;
  }
}

function showUser(user: UserRecord) {
  return {
    username: user.username,
    role: user.role,
    createdAt: user.createdAt,
    passwordChangedAt: user.passwordChangedAt,
  };
}

/** Usernames are case-insensitive (users.username COLLATE NOCASE: ASCII case folding). */
function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
