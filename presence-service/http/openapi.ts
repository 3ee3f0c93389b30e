import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import swaggerUi, { type FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

// The API's OpenAPI document, generated from the route schemas (@fastify/swagger), and its
// browsable UI (@fastify/swagger-ui): the UI at /api/docs, the document at /api/docs/json (and
// /api/docs/yaml). OpenAPI 3.1, because its Schema Objects are JSON Schema, so the routes'
// Fastify schemas (e.g. a numeric `exclusiveMinimum`) are valid in it as written.
//
// Order matters: @fastify/swagger learns the routes from Fastify's onRoute hook, which runs the
// moment a route is added, so it must be installed before the first route. app.register() would
// only load it at ready(), after buildHttpApi has added every route synchronously; so the plugin
// function is applied to the root instance directly, here and now (it is a fastify-plugin, made
// to decorate the root anyway: registering it would do the same, later). The UI is an ordinary
// plugin: its routes are hidden from the document and may load later.

export const DOCS_PREFIX = '/api/docs';

/** What a route needs of its caller, as the access-control hook decides it. */
export type RouteAccess = { open: true } | { open: false; role: string };

export interface OpenApiOptions {
  /** Override the document's version (default: package.json's). */
  version?: string;
  /**
   * The access-control rules (docs/http-auth.md), so each operation says how to authenticate
   * and which role it needs; without it the document says nothing about authentication.
   */
  auth?: {
    accessOf(method: string, url: string): RouteAccess;
    /** The session cookie's name (the dashboard's sign-in). */
    sessionCookie: string;
  };
}

const BEARER = 'bearerToken';
const COOKIE = 'sessionCookie';

export function registerOpenApi(app: FastifyInstance, options: OpenApiOptions = {}): void {
  // Idempotent: a second call (a test, a future refactor) must not add a second hook.
  if (app.hasDecorator('swagger')) return;
  const version = options.version ?? packageVersion();
  const { auth } = options;
  let failure: Error | undefined;
  swagger.fastifySwagger(
    app,
    {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Gridpresence presence service',
          description:
            'Presence, commands and data of electric meters over XMPP: the HTTP API of the ' +
            'presence service (docs/protocol.md, docs/liveness.md, docs/metrics.md).',
          version,
        },
        tags: [
          { name: 'meters', description: 'Meters, their presence and history' },
          { name: 'data', description: 'Readings, events and audit reports' },
          { name: 'export', description: 'CSV exports of history and readings' },
          { name: 'groups', description: 'Groups and group commands' },
          { name: 'polling', description: 'Polling schedules' },
          { name: 'alerts', description: 'Alerts to operators' },
          { name: 'demand-response', description: 'Demand-response rules and events' },
          { name: 'metrics', description: 'Prometheus metrics' },
          { name: 'access', description: 'Sign-in, users and API tokens' },
          { name: 'health', description: 'Liveness of the service itself' },
        ],
        ...(auth && {
          components: {
            securitySchemes: {
              [BEARER]: {
                type: 'http',
                scheme: 'bearer',
                description:
                  'An API token (`presence-service users token <name>` or POST /api/tokens)',
              },
              [COOKIE]: {
                type: 'apiKey',
                in: 'cookie',
                name: auth.sessionCookie,
                description:
                  'The dashboard session (POST /api/session); changes also need X-CSRF-Token',
              },
            },
          },
        }),
      },
      transform: ({ schema, url, route }) => ({
        schema: describeOperation(route.method, url, schema as OperationSchema | undefined, auth),
        url,
      }),
    },
    (error?: Error) => {
      failure = error;
    },
  );
  if (failure) throw failure;
  // Loaded inside a plugin of our own: registered directly, its fastify-plugin metadata would
  // check that '@fastify/swagger' went through app.register(), which the above did not.
  void app.register(async (instance) =>
    loadSwaggerUi(instance, {
      routePrefix: DOCS_PREFIX,
      // The UI's own assets come from node_modules; nothing is fetched from elsewhere.
      staticCSP: true,
      uiConfig: { docExpansion: 'list', deepLinking: false },
    }),
  );
}

/** The UI plugin's function; an async plugin, though its typings describe a callback one. */
const loadSwaggerUi = swaggerUi.fastifySwaggerUi as unknown as (
  instance: FastifyInstance,
  options: FastifySwaggerUiOptions,
) => Promise<void>;

interface OperationSchema {
  operationId?: string;
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  [key: string]: unknown;
}

/**
 * Fills in what a route's schema leaves out, on a copy (Fastify validates with the original):
 * an operationId from the method and path (`getMetersByIdHistory`), a tag from the path's first
 * segment under /api, and, given the access rules, the security requirement and the role needed.
 */
function describeOperation(
  method: string | string[],
  url: string,
  schema: OperationSchema | undefined,
  auth: OpenApiOptions['auth'],
): OperationSchema {
  const verb = (Array.isArray(method) ? method[0] : method) ?? 'GET';
  const described: OperationSchema = { ...schema };
  described.operationId ??= operationIdOf(verb, url);
  described.tags ??= [tagOf(url)];
  if (auth && described.security === undefined) {
    const access = auth.accessOf(verb, url);
    if (access.open) {
      described.security = [];
    } else {
      described.security = [{ [BEARER]: [] }, { [COOKIE]: [] }];
      const needs = `Needs the role \`${access.role}\` or higher.`;
      described.description = described.description
        ? `${described.description}\n\n${needs}`
        : needs;
    }
  }
  return described;
}

/** GET /api/meters/:id/history.csv → getMetersByIdHistoryCsv. */
function operationIdOf(method: string, url: string): string {
  const words = url
    .replace(/^\/api(?=\/|$)/, '')
    .split(/[/.\-_]+/)
    .filter((w) => w !== '')
    .map((w) => (w.startsWith(':') ? `by-${w.slice(1)}` : w === '*' ? 'any' : w))
    .flatMap((w) => w.split('-'))
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return `${method.toLowerCase()}${words.join('') || 'Root'}`;
}

/** Path segments whose routes belong under another segment's tag. */
const TAG_OF_SEGMENT: Record<string, string> = {
  polls: 'polling',
  jobs: 'groups',
  events: 'meters',
  stats: 'meters',
  healthz: 'health',
  session: 'access',
  users: 'access',
  tokens: 'access',
};
const DATA_LISTS = new Set(['readings', 'events', 'audit']);

/** /api/meters/:id → meters; /api/meters/:id/readings → data; /api/polls → polling. */
function tagOf(url: string): string {
  const segments = url.split('/').filter((s) => s !== '');
  const rest = segments[0] === 'api' ? segments.slice(1) : segments;
  if (rest[0] === 'meters' && rest.length === 3 && DATA_LISTS.has(rest[2] ?? '')) return 'data';
  const first = (rest[0] ?? 'root').replace(/\..*$/, '');
  return TAG_OF_SEGMENT[first] ?? first;
}

/** package.json's version: found by walking up from this file (source or dist/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
      return typeof parsed.version === 'string' ? parsed.version : '0.0.0';
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}
