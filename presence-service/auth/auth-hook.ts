import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { roleAtLeast } from '../../src/protocol/commands.js';
import { sendError } from '../http/api-errors.js';
import { secretsEqual } from './passwords.js';
import { accessFor, type Principal, READ_METHODS } from './principal.js';
import type { SessionStore } from './session-store.js';
import type { TokenStore } from './token-store.js';

// The access-control hook (docs/http-auth.md): one onRequest hook in front of every route, so no
// route can forget it. In order: a change from another site is refused; the open routes pass;
// the caller is identified by a bearer token or the session cookie (401 if neither); a change
// made with the cookie must carry the session's CSRF token (403 csrf); the role must reach what
// the method and path need (403 forbidden). Runs before the body is read: an unauthenticated
// request costs a header parse and a hash lookup, nothing more.

export const SESSION_COOKIE = 'gp_session';
export const CSRF_HEADER = 'x-csrf-token';

/** A token longer than this is not one of ours (ours are 43 characters); not worth hashing. */
const MAX_SECRET_CHARS = 256;

const SIGN_IN_HINT =
  'sign in (POST /api/session) or send the header Authorization: Bearer <API token>';

export interface AuthHookDeps {
  sessions: Pick<SessionStore, 'lookup'>;
  tokens: Pick<TokenStore, 'authenticate'>;
}

export function installAuthHook(app: FastifyInstance, { sessions, tokens }: AuthHookDeps): void {
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request, reply) => {
    const isChange = !READ_METHODS.has(request.method);
    if (isChange) {
      const crossSite = crossSiteSign(request);
      if (crossSite) {
        request.log.warn({ crossSite, url: request.url }, 'cross-site change refused');
        sendError(reply, 403, 'csrf', `a change from another site is refused (${crossSite})`);
        return reply;
      }
    }

    const path = request.url.split('?')[0] ?? '/';
    const access = accessFor(request.method, request.routeOptions.url, path);
    if (access.open) return;

    const authorization = request.headers.authorization;
    let principal: Principal;
    if (authorization !== undefined) {
      // A program's bearer token. It wins over a cookie the same client may hold, and is exempt
      // from CSRF: a browser never attaches it to a request on its own.
      const match = /^Bearer +([A-Za-z0-9_-]+)$/i.exec(authorization.trim());
      const owner =
        match?.[1] && match[1].length <= MAX_SECRET_CHARS
          ? tokens.authenticate(match[1])
          : undefined;
      if (!owner) {
        reply.header('www-authenticate', 'Bearer error="invalid_token"');
        const message = match
          ? 'the bearer token is unknown, revoked or expired'
          : `the Authorization header must be "Bearer <API token>"; ${SIGN_IN_HINT}`;
        sendError(reply, 401, 'unauthenticated', message);
        return reply;
      }
      principal = { username: owner.username, role: owner.role, via: 'token' };
    } else {
      const token = sessionTokenOf(request);
      const session = token ? sessions.lookup(token) : undefined;
      if (!session) {
        reply.header('www-authenticate', 'Bearer');
        if (token !== undefined) reply.clearCookie(SESSION_COOKIE, { path: '/' });
        const message =
          token === undefined
            ? `authentication needed: ${SIGN_IN_HINT}`
            : 'the session has ended (signed out, idle or too old, or the password changed); sign in again';
        sendError(reply, 401, 'unauthenticated', message);
        return reply;
      }
      if (isChange) {
        const sent = request.headers[CSRF_HEADER];
        if (typeof sent !== 'string' || !secretsEqual(sent, session.csrfToken)) {
          request.log.warn(
            { username: session.username, url: request.url },
            'cookie change without the CSRF token refused',
          );
          sendError(
            reply,
            403,
            'csrf',
            'a change made with the session cookie needs the X-CSRF-Token header (the csrfToken of POST or GET /api/session)',
          );
          return reply;
        }
      }
      principal = { username: session.username, role: session.role, via: 'session' };
    }

    if (!roleAtLeast(principal.role, access.role)) {
      sendError(
        reply,
        403,
        'forbidden',
        `${request.method} ${path} needs the ${access.role} role; ${principal.username} is ${article(principal.role)} ${principal.role}`,
      );
      return reply;
    }
    request.principal = principal;
  });
}

/** The session token from the gp_session cookie, if the request has one. */
export function sessionTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  const value = request.server.parseCookie(header)[SESSION_COOKIE];
  return value && value.length <= MAX_SECRET_CHARS ? value : undefined;
}

/** The gp_session cookie: not for scripts, never sent from another site, Secure over HTTPS. */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string) {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    // request.protocol honours X-Forwarded-Proto only with trustProxy (a TLS-terminating proxy).
    secure: request.protocol === 'https',
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/**
 * Why a change looks cross-site, or null: the browser says so (Fetch Metadata), or its Origin
 * is not this server. No Origin at all is a program, or an old browser; the CSRF token still
 * guards cookie requests then.
 */
function crossSiteSign(request: FastifyRequest): string | null {
  if (request.headers['sec-fetch-site'] === 'cross-site') return 'Sec-Fetch-Site: cross-site';
  const origin = request.headers.origin;
  if (origin === undefined) return null;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return `Origin ${origin.slice(0, 100)}`;
  }
  return host !== '' && host.toLowerCase() === request.host.toLowerCase()
    ? null
    : `Origin ${origin.slice(0, 100)}`;
}

function article(role: string): string {
  return /^[aeiou]/.test(role) ? 'an' : 'a';
}
