import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatCsvField } from '../cli/csv.js';
import type {
  ExportQueries,
  ExportWindow,
  HistoryExportRow,
  ReadingExportRow,
} from '../store/export-queries.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import { sendError } from './api-errors.js';
import { dateTimeSchema, meterIdSchema } from './schemas.js';

// CSV exports for a chosen window (docs/protocol.md "Data", HTTP):
//   GET /api/meters/:id/history.csv   every recorded change, received_at in the window
//   GET /api/meters/:id/readings.csv  every reading, ts (the meter's clock) in the window, one
//                                     column per register found in it
//   GET /api/history.csv              every meter's changes (or a group's), at most 31 days
// RFC 4180: a header row, CRLF line ends, fields quoted when they hold `"`, `,`, CR or LF.
// Streamed page by page (store/export-queries.ts): the body is never built whole, and the event
// loop gets a turn between pages, so a large export does not stall the presence path.
//
// CSV injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with = + - @ (or
// a tab or CR) as a formula, so such a cell gets a leading apostrophe, which spreadsheets show as
// text and do not run. Numbers are left alone: "-0.5" or "+3" can only ever be a number (a
// spreadsheet evaluates them as constants), and prefixing them would turn every negative reading
// (exported energy, a power factor) into text. A cell is a number only if ALL of it is one
// (`-1+2` or `-2+3+cmd|' /C calc'!A0` are not), so no formula passes as a number.

export const EXPORT_LIMITS = {
  /** Without `since`, the window is this long before `until`. */
  defaultWindowMs: 24 * 3600 * 1000,
  /** The fleet export reads every meter: at most this window. */
  fleetMaxDays: 31,
  /** One meter's export: at most this window (a year of 60 s readings is ~525,000 rows). */
  meterMaxDays: 366,
  pageRows: 500,
};

const DAY_MS = 24 * 3600 * 1000;

const HISTORY_HEADER = [
  'received_at',
  'meter_id',
  'prev_state',
  'state',
  'reason_code',
  'reason_text',
  'seq',
  'since',
  'source',
  'gap',
];
const READING_HEADER = ['ts', 'seq', 'received_at', 'delayed', 'dropped'];

interface WindowQuery {
  since?: string;
  until?: string;
}

const windowProperties = { since: dateTimeSchema, until: dateTimeSchema } as const;
const meterParams = {
  type: 'object',
  required: ['id'],
  properties: { id: meterIdSchema },
} as const;
const csvResponse = {
  200: {
    description: 'RFC 4180 CSV with a header row (text/csv; charset=utf-8), sent as an attachment',
    content: { 'text/csv': { schema: { type: 'string' } } },
  },
} as const;

export interface CsvRoutesDeps {
  registry: Pick<MeterRegistry, 'get'>;
  exports: ExportQueries;
  now?: () => Date;
}

export function registerCsvRoutes(app: FastifyInstance, deps: CsvRoutesDeps): void {
  const { registry, exports } = deps;
  const now = deps.now ?? (() => new Date());

  app.get<{ Params: { id: string }; Querystring: WindowQuery }>(
    '/api/meters/:id/history.csv',
    {
      schema: {
        tags: ['export'],
        summary: "A meter's state changes in a window, as CSV",
        description:
          'Every recorded change whose received_at is within [since, until] (inclusive), oldest ' +
          `first. Default window: the ${EXPORT_LIMITS.defaultWindowMs / 3600_000} h before ` +
          `until (default now); at most ${EXPORT_LIMITS.meterMaxDays} days.`,
        params: meterParams,
        querystring: { type: 'object', properties: windowProperties },
        response: csvResponse,
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const window = windowOf(request.query, reply, now(), EXPORT_LIMITS.meterMaxDays);
      if (!window) return;
      if (!registry.get(id) && !exports.hasHistory(id)) {
        return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      }
      const pages = exports.meterHistory(id, window, EXPORT_LIMITS.pageRows);
      return sendCsv(reply, `${id}-history`, window, historyLines(pages));
    },
  );

  app.get<{ Params: { id: string }; Querystring: WindowQuery }>(
    '/api/meters/:id/readings.csv',
    {
      schema: {
        tags: ['export'],
        summary: "A meter's readings in a window, as CSV",
        description:
          'One row per reading whose ts (the meter clock) is within [since, until], oldest ' +
          'first: ts, seq, received_at, delayed, dropped, then one column per register found ' +
          'in the window, headed "<OBIS id> (<unit>)".',
        params: meterParams,
        querystring: { type: 'object', properties: windowProperties },
        response: csvResponse,
      },
    },
    (request, reply) => {
      const { id } = request.params;
      const window = windowOf(request.query, reply, now(), EXPORT_LIMITS.meterMaxDays);
      if (!window) return;
      if (!registry.get(id) && !exports.hasReadings(id)) {
        return sendError(reply, 404, 'meter-unknown', `meter '${id}' is not registered`);
      }
      const pages = () => exports.meterReadings(id, window, EXPORT_LIMITS.pageRows);
      return sendCsv(reply, `${id}-readings`, window, readingLines(pages));
    },
  );

  app.get<{ Querystring: WindowQuery & { group?: string } }>(
    '/api/history.csv',
    {
      schema: {
        tags: ['export'],
        summary: "Every meter's state changes in a window, as CSV",
        description:
          `At most ${EXPORT_LIMITS.fleetMaxDays} days. Rows are grouped by meter (ids in ` +
          "order), each meter's changes oldest first; `group` keeps that group's members only.",
        querystring: {
          type: 'object',
          properties: { ...windowProperties, group: meterIdSchema },
        },
        response: csvResponse,
      },
    },
    (request, reply) => {
      const { group } = request.query;
      const window = windowOf(request.query, reply, now(), EXPORT_LIMITS.fleetMaxDays);
      if (!window) return;
      if (group !== undefined && !exports.groupExists(group)) {
        return sendError(reply, 404, 'group-unknown', `no group '${group}': no meter is in it`);
      }
      const pages = exports.fleetHistory(window, group, EXPORT_LIMITS.pageRows);
      return sendCsv(reply, `${group ?? 'fleet'}-history`, window, historyLines(pages));
    },
  );
}

/** The window from the query, normalised to stored time text; or a 400 naming the fault. */
function windowOf(
  query: WindowQuery,
  reply: FastifyReply,
  now: Date,
  maxDays: number,
): ExportWindow | undefined {
  const instants: { since?: number; until?: number } = {};
  for (const key of ['since', 'until'] as const) {
    const value = query[key];
    if (value === undefined) continue;
    const instant = Date.parse(value);
    if (Number.isNaN(instant) || !isRealDate(value)) {
      sendError(
        reply,
        400,
        'bad-request',
        `querystring parameter '${key}' is not a valid RFC 3339 date-time`,
      );
      return undefined;
    }
    instants[key] = instant;
  }
  const until = instants.until ?? now.getTime();
  const since = instants.since ?? until - EXPORT_LIMITS.defaultWindowMs;
  if (since > until) {
    sendError(reply, 400, 'bad-request', "querystring parameter 'until' is before 'since'");
    return undefined;
  }
  if (until - since > maxDays * DAY_MS) {
    sendError(
      reply,
      400,
      'bad-request',
      `the window from 'since' to 'until' is over ${maxDays} days; export it in parts`,
    );
    return undefined;
  }
  return { since: new Date(since).toISOString(), until: new Date(until).toISOString() };
}

/** RFC 3339 §5.7: the date must exist; Date.parse would roll 30 February into March. */
function isRealDate(value: string): boolean {
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function sendCsv(
  reply: FastifyReply,
  name: string,
  window: ExportWindow,
  lines: AsyncIterable<string>,
): FastifyReply {
  const filename = `${name}-${compactTime(window.since)}-${compactTime(window.until)}.csv`;
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(Readable.from(lines));
}

/** 2026-11-27T14:00:00.000Z → 20261127T140000Z: no characters file systems refuse. */
function compactTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

async function* historyLines(pages: Iterable<HistoryExportRow[]>): AsyncGenerator<string> {
  yield csvLine(HISTORY_HEADER);
  for (const page of pages) {
    yield page
      .map((row) =>
        csvLine([
          row.receivedAt,
          row.meterId,
          row.prevState,
          row.state,
          row.reasonCode,
          row.reasonText,
          row.seq,
          row.since,
          row.source,
          row.gap,
        ]),
      )
      .join('');
    await nextTurn();
  }
}

/**
 * Two passes over the window: the first finds the registers (and their units) for the header,
 * the second writes the rows. A register reported with two units gets a column for each.
 */
async function* readingLines(pages: () => Iterable<ReadingExportRow[]>): AsyncGenerator<string> {
  const columns = new Map<string, { id: string; unit: string }>();
  for (const page of pages()) {
    for (const row of page) {
      for (const [id, , unit] of parseValues(row.valuesJson)) {
        columns.set(columnKey(id, unit), { id, unit });
      }
    }
    await nextTurn();
  }
  const ordered = [...columns.entries()].sort(([, a], [, b]) => compareRegisters(a, b));
  const index = new Map(ordered.map(([key], i) => [key, i]));
  const headings = ordered.map(([, { id, unit }]) => (unit === '' ? id : `${id} (${unit})`));
  yield csvLine([...READING_HEADER, ...headings]);

  for (const page of pages()) {
    let chunk = '';
    for (const row of page) {
      const cells: Array<string | null> = new Array(ordered.length).fill(null);
      for (const [id, value, unit] of parseValues(row.valuesJson)) {
        const at = index.get(columnKey(id, unit));
        // A reading stored after the first pass may bring a register the header lacks: left out.
        if (at !== undefined) cells[at] = value;
      }
      chunk += csvLine([row.ts, row.seq, row.receivedAt, row.delayed === 1, row.dropped, ...cells]);
    }
    yield chunk;
    await nextTurn();
  }
}

const parseValues = (json: string) => JSON.parse(json) as Array<[string, string, string]>;

const columnKey = (id: string, unit: string) => `${id}\u0000${unit}`;

/** OBIS ids in the order of their numbers (1-0:2.8.0 before 1-0:13.7.0), then by unit. */
function compareRegisters(a: { id: string; unit: string }, b: { id: string; unit: string }) {
  const an = a.id.split(/\D+/).map(Number);
  const bn = b.id.split(/\D+/).map(Number);
  for (let i = 0; i < Math.max(an.length, bn.length); i++) {
    const d = (an[i] ?? -1) - (bn[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : 0;
}

type Cell = string | number | boolean | null;

/** One CSV record with its CRLF (RFC 4180 §2.1). */
export function csvLine(cells: readonly Cell[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A cell, safe from formula injection, quoted when RFC 4180 needs it; null is empty. */
export function csvCell(value: Cell): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  const safe = FORMULA_START.test(value) && !PLAIN_NUMBER.test(value) ? `'${value}` : value;
  return formatCsvField(safe);
}
