import type { FastifyInstance } from 'fastify';
import type { FleetTimeline, TimelineQueries } from '../store/timeline-queries.js';
import { sendError } from './api-errors.js';

// GET /api/stats/timeline: the fleet's meters per state over the last hours, for the
// dashboard's state-over-time chart (docs/dashboard.md). Counts at every bucket boundary and at
// now, from state_history. Dashboards on many screens ask the same question every minute, so an
// answer is kept for a few seconds per (hours, bucketMin).

export const TIMELINE_LIMITS = { maxHours: 168, maxBuckets: 2000 };
export const TIMELINE_CACHE_MS = 5_000;

interface TimelineQuery {
  hours: number;
  bucketMin: number;
}

export interface StatsTimelineRoutesDeps {
  timeline: Pick<TimelineQueries, 'fleet'>;
  /** The clock (STYLE §7); the cache's age is measured on it too. */
  now?: () => Date;
  cacheMs?: number;
}

export function registerStatsTimelineRoutes(
  app: FastifyInstance,
  { timeline, now = () => new Date(), cacheMs = TIMELINE_CACHE_MS }: StatsTimelineRoutesDeps,
): void {
  // Bounded by the schema's ranges, and emptied when it grows past a handful of windows.
  const cache = new Map<string, { at: number; value: FleetTimeline }>();

  app.get<{ Querystring: TimelineQuery }>(
    '/api/stats/timeline',
    {
      schema: {
        tags: ['stats'],
        summary: 'Meters per state at regular instants over the last hours',
        querystring: {
          type: 'object',
          properties: {
            hours: { type: 'integer', minimum: 1, maximum: TIMELINE_LIMITS.maxHours, default: 24 },
            bucketMin: { type: 'integer', minimum: 1, maximum: 1440, default: 15 },
          },
        },
      },
    },
    (request, reply) => {
      const { hours, bucketMin } = request.query;
      const buckets = (hours * 60) / bucketMin;
      if (buckets > TIMELINE_LIMITS.maxBuckets) {
        return sendError(
          reply,
          400,
          'bad-request',
          `querystring parameter 'bucketMin' gives ${Math.ceil(buckets)} buckets; at most ${TIMELINE_LIMITS.maxBuckets}`,
        );
      }
      const key = `${hours}:${bucketMin}`;
      const nowMs = now().getTime();
      const cached = cache.get(key);
      if (cached && nowMs - cached.at < cacheMs) return cached.value;

      const bucketMs = bucketMin * 60_000;
      // Boundaries on whole buckets (UTC), so that successive answers share their instants.
      const lastBoundary = Math.floor(nowMs / bucketMs) * bucketMs;
      const from = new Date(lastBoundary - hours * 3_600_000);
      const value = timeline.fleet({ from, to: new Date(nowMs), bucketMs });
      if (cache.size >= 16) cache.clear();
      cache.set(key, { at: nowMs, value });
      return value;
    },
  );
}
