import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { clearSessionCookie, sessionTokenOf, setSessionCookie } from '../auth/auth-hook.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import { DUMMY_HASH, PASSWORD_RULES, verifyPassword } from '../auth/passwords.js';
import type { Session, SessionStore } from '../auth/session-store.js';
import type { UserStore } from '../auth/user-store.js';
import { sendError } from './api-errors.js';

// Signing in and out of the dashboard (docs/http-auth.md "Sessions"): POST /api/session checks
// the password and sets the gp_session cookie, GET /api/session says who is signed in (and gives
// the CSRF token again after a reload), DELETE /api/session signs out. One answer for an unknown
// user and a wrong password, at the same cost; failures are throttled (login-throttle.ts).

export interface AuthRoutesDeps {
  users: Pick<UserStore, 'passwordHashOf'>;
  sessions: Pick<SessionStore, 'create' | 'lookup' | 'revoke'>;
  throttle: LoginThrottle;
}

const SIGN_IN_FAILED = 'wrong username or password';

const userSchema = {
  type: 'object',
  required: ['username', 'role'],
  properties: { username: { type: 'string' }, role: { type: 'string' } },
} as const;

const sessionResponse = {
  200: {
    type: 'object',
    required: ['user', 'csrfToken'],
    properties: { user: userSchema, csrfToken: { type: 'string' } },
  },
} as const;

/** GET /api/session also answers "nobody": a question, not a failure (no 401 in the console). */
const currentSessionResponse = {
  200: {
    type: 'object',
    required: ['user', 'csrfToken'],
    properties: {
      user: { anyOf: [userSchema, { type: 'null' }] },
      csrfToken: { type: ['string', 'null'] },
    },
  },
} as const;

interface SignIn {
  username: string;
  password: string;
}

export function registerAuthRoutes(app: FastifyInstance, deps: AuthRoutesDeps): void {
  const { users, sessions, throttle } = deps;

  app.post<{ Body: SignIn }>(
    '/api/session',
    {
      schema: {
        summary: 'Sign in: sets the gp_session cookie and returns the CSRF token',
        tags: ['access'],
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 256 },
            password: { type: 'string', minLength: 1, maxLength: PASSWORD_RULES.maxLength },
          },
        },
        response: sessionResponse,
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const decision = throttle.begin(username, request.ip);
      if (!decision.allowed) {
        request.log.warn({ username, ip: request.ip }, 'sign-in refused: too many failures');
        reply.header('retry-after', String(decision.retryAfterS));
        return sendError(
          reply,
          429,
          'too-many-attempts',
          `too many failed sign-ins; try again in ${decision.retryAfterS} s`,
        );
      }
      const found = users.passwordHashOf(username);
      // An unknown user is checked against a dummy hash: the same work, the same answer.
      const matches = await verifyPassword(password, found?.passwordHash ?? DUMMY_HASH);
      if (!found || !matches) {
        await sleep(decision.attempt.failed());
        request.log.info({ username, ip: request.ip }, 'sign-in failed');
        return sendError(reply, 401, 'sign-in-failed', SIGN_IN_FAILED);
      }
      decision.attempt.succeeded();
      // Always a new session (no fixation); the one this browser had, if any, ends.
      const previous = sessionTokenOf(request);
      if (previous) sessions.revoke(previous);
      const { token, session } = sessions.create(found.user.id, {
        remoteAddr: request.ip,
        ...(request.headers['user-agent'] && { userAgent: request.headers['user-agent'] }),
      });
      setSessionCookie(request, reply, token);
      request.log.info({ username: session.username, ip: request.ip }, 'signed in');
      return sessionView(session);
    },
  );

  app.get(
    '/api/session',
    {
      schema: {
        summary: 'The signed-in user and the CSRF token; user null without a live session',
        tags: ['access'],
        response: currentSessionResponse,
      },
    },
    (request, reply) => {
      const token = sessionTokenOf(request);
      const session = token ? sessions.lookup(token) : undefined;
      if (!session) {
        if (token) clearSessionCookie(reply);
        return { user: null, csrfToken: null };
      }
      return sessionView(session);
    },
  );

  app.delete(
    '/api/session',
    { schema: { summary: 'Sign out: ends the session of the cookie', tags: ['access'] } },
    (request, reply) => {
      const token = sessionTokenOf(request);
      if (token) sessions.revoke(token);
      clearSessionCookie(reply);
      reply.code(204).send();
    },
  );
}

function sessionView(session: Session) {
  return { user: { username: session.username, role: session.role }, csrfToken: session.csrfToken };
}
