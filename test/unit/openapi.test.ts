import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertStore } from '../../presence-service/alerts/alert-store.js';
import { createAccessControl } from '../../presence-service/auth/access-control.js';
import { createDataStore } from '../../presence-service/data/data-store.js';
import { createGroupCommands } from '../../presence-service/groups/group-commands.js';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import { registerCsvRoutes } from '../../presence-service/http/csv-routes.js';
import { registerMetricsRoute } from '../../presence-service/http/metrics-route.js';
import { registerOpenApi } from '../../presence-service/http/openapi.js';
import { createMetrics } from '../../presence-service/metrics/metrics.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createExportQueries } from '../../presence-service/store/export-queries.js';
import { createGroupDirectory } from '../../presence-service/store/group-directory.js';
import { createJobStore } from '../../presence-service/store/job-store.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';

// The OpenAPI document (@fastify/swagger, served at /api/docs/json with the UI at /api/docs):
// generated from every route of the real API as buildHttpApi assembles it, it must be a sound
// OpenAPI 3.1 document that lists every route. No OpenAPI validator is a dependency, so the
// checks below are the structural rules of the specification that a generator can get wrong.

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: unknown }>;
  requestBody?: { content?: Record<string, unknown> };
  responses?: Record<string, { description?: unknown; content?: Record<string, unknown> }>;
  security?: Array<Record<string, string[]>>;
  description?: string;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Json };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/**
 * Every method and path the app routes, from Fastify's own route tree (printRoutes), with
 * `:param` written the OpenAPI way. HEAD routes (Fastify adds one per GET) are left out, as
 * @fastify/swagger leaves them out.
 */
function appRoutes(app: FastifyInstance): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    for (const method of (match[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) {
      routes.push({ method: method.toLowerCase(), path: stack.join('') });
    }
  }
  return routes;
}

const openApiPath = (path: string) =>
  path.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{*}');

/** The specification's rules that a generated document may break. */
function checkDocument(doc: Document): string[] {
  const problems: string[] = [];
  if (!/^3\.1\.\d+$/.test(doc.openapi)) problems.push(`openapi is '${doc.openapi}'`);
  if (!doc.info?.title || !doc.info.version) problems.push('info needs title and version');
  const operationIds = new Map<string, string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/')) problems.push(`${path}: paths start with /`);
    if (/\/:/.test(path)) problems.push(`${path}: a Fastify :param left in the path`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, operation] of Object.entries(item)) {
      const at = `${method.toUpperCase()} ${path}`;
      if (!HTTP_METHODS.includes(method)) {
        if (method !== 'parameters' && method !== 'summary' && method !== 'description') {
          problems.push(`${path}: '${method}' is not an HTTP method`);
        }
        continue;
      }
      if (!operation.summary && !operation.operationId) problems.push(`${at}: no summary or id`);
      if (operation.operationId) {
        const other = operationIds.get(operation.operationId);
        if (other) problems.push(`${at}: operationId '${operation.operationId}' also on ${other}`);
        operationIds.set(operation.operationId, at);
      }
      const responses = Object.entries(operation.responses ?? {});
      if (responses.length === 0) problems.push(`${at}: no responses`);
      for (const [code, response] of responses) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(code)) problems.push(`${at}: response ${code}`);
        if (typeof response.description !== 'string') {
          problems.push(`${at}: response ${code} has no description`);
        }
      }
      const seen = new Set<string>();
      for (const parameter of operation.parameters ?? []) {
        const key = `${parameter.in}:${parameter.name}`;
        if (seen.has(key)) problems.push(`${at}: parameter ${key} twice`);
        seen.add(key);
        if (!['query', 'header', 'path', 'cookie'].includes(parameter.in)) {
          problems.push(`${at}: parameter ${parameter.name} in '${parameter.in}'`);
        }
        if (parameter.in === 'path' && parameter.required !== true) {
          problems.push(`${at}: path parameter ${parameter.name} must be required`);
        }
        if (typeof parameter.schema !== 'object') problems.push(`${at}: ${key} has no schema`);
      }
      for (const name of templated) {
        if (!operation.parameters?.some((p) => p.in === 'path' && p.name === name)) {
          problems.push(`${at}: {${name}} is not declared as a path parameter`);
        }
      }
      if (operation.requestBody && Object.keys(operation.requestBody.content ?? {}).length === 0) {
        problems.push(`${at}: a request body without content`);
      }
      if (operation.tags && !operation.tags.every((t) => typeof t === 'string')) {
        problems.push(`${at}: tags must be strings`);
      }
    }
  }
  return problems;
}

describe('the OpenAPI document of the whole API (buildHttpApi)', () => {
  let db: Database;
  let app: FastifyInstance;
  let doc: Document;
  let stopCommands: () => void;

  beforeAll(async () => {
    db = openDatabase(':memory:');
    const registry = createMeterRegistry({ db });
    const directory = createGroupDirectory({ db });
    const jobs = createJobStore({ db });
    const commands = createGroupCommands({
      groups: directory,
      jobs,
      run: async () => ({ kind: 'timeout' }),
      logger: silentLogger(),
    });
    stopCommands = () => commands.stop();
    // Every optional part present, so every route is registered.
    app = buildHttpApi({
      auth: createAccessControl({ db }),
      registry,
      store: createPresenceStore({ db }),
      data: createDataStore({ db }),
      groups: { directory, commands, jobs },
      demandResponse: {
        service: { status: () => [], setLimit: () => undefined },
        store: { events: () => [], event: () => undefined, decisions: () => [] },
      },
      alerts: { store: createAlertStore({ db }) },
      polling: {
        scheduler: {
          describe: () => [],
          startNow: () => {
            throw new Error('no schedules');
          },
        },
        pollStore: {
          lastRun: () => undefined,
          recentRuns: () => [],
          lastActivity: () => undefined,
        },
      },
      email: { poll: async () => 'sent', recentPolls: () => [] },
      bus: createChangeBus(),
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
    });
    await app.ready();
    if (!app.hasDecorator('swagger')) {
      throw new Error(
        'buildHttpApi does not call registerOpenApi(app) before its routes (presence-service/http/openapi.ts)',
      );
    }
    doc = app.swagger() as unknown as Document;
  });

  afterAll(async () => {
    stopCommands?.();
    await app?.close();
    db?.close();
  });

  it('is OpenAPI 3.1 with the service name and the package version', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({
      title: 'Gridpresence presence service',
      version: PACKAGE_VERSION,
    });
  });

  it('breaks none of the structural rules of the specification', () => {
    expect(checkDocument(doc)).toEqual([]);
  });

  it('lists every route of the API, and nothing else', () => {
    // The API surface; the dashboard's pages and files, and the docs UI itself, are not in it.
    const isApi = (path: string) =>
      (path.startsWith('/api/') && !path.startsWith('/api/docs')) ||
      path === '/metrics' ||
      path === '/healthz';
    const routes = appRoutes(app).filter(({ path }) => isApi(path));
    expect(routes.length).toBeGreaterThan(20);
    const documented = new Set(
      Object.entries(doc.paths)
        .filter(([path]) => isApi(path))
        .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`)),
    );
    const missing = routes
      .map(({ method, path }) => `${method} ${openApiPath(path)}`)
      .filter((route) => !documented.has(route));
    expect(missing).toEqual([]);
    expect(documented.size).toBe(new Set(routes.map((r) => `${r.method} ${r.path}`)).size);
  });

  it('survives JSON: what /api/docs/json sends is the same document', () => {
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('registerOpenApi', () => {
  let db: Database;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = openDatabase(':memory:');
    app = Fastify();
    registerOpenApi(app, {
      version: '9.9.9',
      auth: {
        accessOf: (method, url) =>
          url === '/healthz'
            ? { open: true }
            : { open: false, role: method === 'GET' ? 'viewer' : 'operator' },
        sessionCookie: 'gp_session',
      },
    });
    registerOpenApi(app); // a second call changes nothing
    registerMetricsRoute(app, {
      metrics: createMetrics({ meterCounts: () => ({}) as never }, { processMetrics: false }),
    });
    registerCsvRoutes(app, {
      registry: createMeterRegistry({ db }),
      exports: createExportQueries({ db }),
    });
    app.get('/healthz', () => ({ status: 'ok' }));
    app.post<{ Params: { group: string } }>('/api/groups/:group/commands', () => ({}));
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    db?.close();
  });

  it('serves the UI and its assets from node_modules, and the document as JSON and YAML', async () => {
    const page = await app.inject('/api/docs');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    for (const [asset, type] of [
      ['/api/docs/static/swagger-ui-bundle.js', 'application/javascript'],
      ['/api/docs/static/swagger-ui-standalone-preset.js', 'application/javascript'],
      ['/api/docs/static/swagger-ui.css', 'text/css'],
      ['/api/docs/static/index.css', 'text/css'],
      ['/api/docs/static/swagger-initializer.js', 'application/javascript'],
    ]) {
      const res = await app.inject(asset as string);
      expect(res.statusCode, asset).toBe(200);
      expect(res.headers['content-type'], asset).toContain(type);
      expect(res.body.length, asset).toBeGreaterThan(100);
    }
    const json = await app.inject('/api/docs/json');
    expect(json.statusCode).toBe(200);
    const doc = json.json() as Document;
    expect(doc.info.version).toBe('9.9.9');
    expect(checkDocument(doc)).toEqual([]);
    const yaml = await app.inject('/api/docs/yaml');
    expect(yaml.statusCode).toBe(200);
    expect(yaml.body).toContain('openapi: 3.1.0');
  });

  it('documents the CSV and metrics routes with tags, summaries and their media types', () => {
    const doc = app.swagger() as unknown as Document;
    for (const path of ['/api/meters/{id}/history.csv', '/api/meters/{id}/readings.csv']) {
      const get = doc.paths[path]?.get;
      expect(get?.tags).toEqual(['export']);
      expect(get?.summary).toMatch(/CSV/);
      expect(get?.responses?.['200']?.content).toHaveProperty(['text/csv']);
      expect(get?.parameters?.map((p) => `${p.in}:${p.name}`).sort()).toEqual([
        'path:id',
        'query:since',
        'query:until',
      ]);
    }
    expect(doc.paths['/api/history.csv']?.get?.parameters?.map((p) => p.name).sort()).toEqual([
      'group',
      'since',
      'until',
    ]);
    expect(doc.paths['/metrics']?.get?.responses?.['200']?.content).toHaveProperty(['text/plain']);
    // the UI's own routes are not part of the API
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/api/docs'))).toBe(false);
  });

  it('names, tags and secures operations the routes leave bare', () => {
    const doc = app.swagger() as unknown as Document;
    const command = doc.paths['/api/groups/{group}/commands']?.post;
    expect(command).toMatchObject({
      operationId: 'postGroupsByGroupCommands',
      tags: ['groups'],
      security: [{ bearerToken: [] }, { sessionCookie: [] }],
    });
    expect(command?.description).toContain('`operator`');
    expect(doc.paths['/healthz']?.get).toMatchObject({ operationId: 'getHealthz', security: [] });
    expect(doc.components?.securitySchemes).toMatchObject({
      bearerToken: { type: 'http', scheme: 'bearer' },
      sessionCookie: { type: 'apiKey', in: 'cookie', name: 'gp_session' },
    });
  });
});
