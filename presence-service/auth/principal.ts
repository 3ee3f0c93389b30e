import type { FastifyRequest } from 'fastify';
import type { Role } from '../../src/protocol/commands.js';

// Who is calling, and the one rule that says what each request needs (docs/http-auth.md
// "Roles"). The rule looks at the method and the path only, so a route added later is covered
// without doing anything: reading needs a viewer, changing needs an operator, managing users and
// tokens needs an admin. The few open routes are named here and nowhere else.

export interface Principal {
  username: string;
  role: Role;
  /** The session cookie (a person in the dashboard) or a bearer token (a program). */
  via: 'session' | 'token';
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by the access-control hook (auth-hook.ts) before any route that needs a principal,
     * which is every route but the open ones; null on those.
     */
    principal: Principal | null;
  }
}

/** What a request needs: nothing (an open route), or a principal with at least `role`. */
export type Access = { open: true } | { open: false; role: Role };

const OPEN: Access = { open: true };
const needs = (role: Role): Access => ({ open: false, role });

/** Methods that only read; every other method is a change (CSRF applies, operator needed). */
export const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** The routes anyone may call: sign-in, "am I signed in?", and the load balancer's check. */
const OPEN_ROUTES = new Set([
  'POST /api/session',
  'GET /api/session',
  'HEAD /api/session',
  'GET /healthz',
  'HEAD /healthz',
]);

/**
 * Routes a principal needs for but a lower role than the method's rule: signing out, and a
 * user's own tokens (the handler shows and revokes only the caller's unless they are an admin).
 */
const SELF_SERVICE_ROUTES = new Set([
  'DELETE /api/session',
  'GET /api/tokens',
  'HEAD /api/tokens',
  'DELETE /api/tokens/:id',
]);

/**
 * The access a request needs. `route` is the matched route's pattern (`/api/meters/:id`), or
 * undefined when no route matched; `path` is the request's path without the query. Both are
 * looked at: a catch-all route (the dashboard's files) must not open a path under /api/.
 */
export function accessFor(method: string, route: string | undefined, path: string): Access {
  const key = `${method} ${route ?? path}`;
  if (route !== undefined && OPEN_ROUTES.has(key)) return OPEN;
  if (!isProtectedPath(route ?? '') && !isProtectedPath(normalise(path))) return OPEN;
  if (route !== undefined && SELF_SERVICE_ROUTES.has(key)) return needs('viewer');
  const target = route ?? normalise(path);
  if (underPrefix(target, '/api/users') || underPrefix(target, '/api/tokens')) {
    return needs('admin');
  }
  return READ_METHODS.has(method) ? needs('viewer') : needs('operator');
}

/** The API and the metrics; everything else is the dashboard's pages and files. */
function isProtectedPath(path: string): boolean {
  return underPrefix(path, '/api') || underPrefix(path, '/metrics');
}

function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * For the protection test only: lower case, percent-decoded, repeated slashes folded, so that
 * `//API/%6Deters` is judged as `/api/meters` whatever the router makes of it.
 */
function normalise(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // A malformed escape: judge the raw text; the router will not match it either.
  }
  return decoded.toLowerCase().replace(/\/{2,}/g, '/');
}

/** The principal of a route that needs one; throws if the access-control hook did not run. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) {
    throw new Error(`${request.method} ${request.url} was reached without a principal`);
  }
  return request.principal;
}
