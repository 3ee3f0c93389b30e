import type { FastifyInstance } from 'fastify';
import { METER_STATES, type MeterState } from '../../src/protocol/index.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import {
  METER_SORT_KEYS,
  type MeterSortKey,
  type MeterTableQueries,
} from '../store/meter-table-queries.js';
import type { PresenceStore } from '../store/presence-store.js';
import { meterView } from './meter-view.js';
import { LIST_LIMIT } from './meters-routes.js';
import { meterIdSchema } from './schemas.js';

// GET /api/fleet/meters: GET /api/meters with a sort order, for the dashboard's meter table
// (filter, sort and paginate on the server: 10,000 rows never travel to a browser). Rows are the
// same MeterView as everywhere else. `sort` is a key, `-key` for descending.

const SORT_VALUES = METER_SORT_KEYS.flatMap((key) => [key, `-${key}`]);

interface TableQuery {
  state?: MeterState;
  group?: string;
  q?: string;
  sort: string;
  limit: number;
  offset: number;
}

export interface MeterTableRoutesDeps {
  table: MeterTableQueries;
  registry: Pick<MeterRegistry, 'get'>;
  store: Pick<PresenceStore, 'current'>;
}

export function registerMeterTableRoutes(
  app: FastifyInstance,
  { table, registry, store }: MeterTableRoutesDeps,
): void {
  app.get<{ Querystring: TableQuery }>(
    '/api/fleet/meters',
    {
      schema: {
        tags: ['meters'],
        summary: 'Meters with their current state: filtered, sorted, one page',
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: [...METER_STATES] },
            group: meterIdSchema,
            q: { type: 'string', minLength: 1, maxLength: 200 },
            sort: { type: 'string', enum: SORT_VALUES, default: 'id' },
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: LIST_LIMIT.max,
              default: LIST_LIMIT.default,
            },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
        },
      },
    },
    (request) => {
      const { sort, ...filter } = request.query;
      const descending = sort.startsWith('-');
      const key = (descending ? sort.slice(1) : sort) as MeterSortKey;
      const { total, ids } = table.page({ ...filter, sort: key, descending });
      const meters = ids.flatMap((id) => {
        const meter = registry.get(id);
        // Removed between the two reads: leave it out rather than show a half row.
        return meter ? [meterView({ ...meter, current: store.current(id) ?? null })] : [];
      });
      return { total, sort, meters };
    },
  );
}
