import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import { registerAuthRoutes } from '../http/auth-routes.js';
import { registerUsersRoutes } from '../http/users-routes.js';
import type { Database } from '../store/database.js';
import { installAuthHook } from './auth-hook.js';
import { createLoginThrottle, type LoginThrottle, type ThrottleOptions } from './login-throttle.js';
import { createSessionStore, type SessionStore } from './session-store.js';
import { createTokenStore, type TokenStore } from './token-store.js';
import { createUserStore, type UserStore } from './user-store.js';

// Access control on HTTP, assembled (docs/http-auth.md): the stores over the service database,
// and the one call that puts the hook in front of every route and adds the session, user and
// token routes. build-http-api.ts makes that call before any other route is registered.

export interface AccessControl {
  users: UserStore;
  sessions: SessionStore;
  tokens: TokenStore;
  throttle: LoginThrottle;
}

export function createAccessControl({
  db,
  sessionIdleMin,
  sessionMaxHours,
  throttle,
  now,
}: {
  db: Database;
  sessionIdleMin?: number;
  sessionMaxHours?: number;
  /** Brute-force limits; the defaults suit production (tests shorten the delays). */
  throttle?: Partial<ThrottleOptions>;
  /** The clock (STYLE §7). */
  now?: () => Date;
}): AccessControl {
  return {
    users: createUserStore({ db, ...(now && { now }) }),
    sessions: createSessionStore({
      db,
      ...(sessionIdleMin !== undefined && { idleMin: sessionIdleMin }),
      ...(sessionMaxHours !== undefined && { maxHours: sessionMaxHours }),
      ...(now && { now }),
    }),
    tokens: createTokenStore({ db, ...(now && { now }) }),
    throttle: createLoginThrottle(throttle, now && (() => now().getTime())),
  };
}

/**
 * The cookie parser, the access-control hook, and the session, user and token routes. Call it
 * before registering any other route or plugin that adds routes.
 */
export function registerAccessControl(app: FastifyInstance, access: AccessControl): void {
  // hook: false — the auth hook parses the cookie itself, so it cannot run before a parser.
  app.register(fastifyCookie, { hook: false });
  installAuthHook(app, access);
  registerAuthRoutes(app, access);
  registerUsersRoutes(app, access);
}
