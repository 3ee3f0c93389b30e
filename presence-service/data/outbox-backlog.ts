// The meters' outbox depth as they report it (our extension, docs/protocol.md "Data"): each
// reading may carry `backlog='N'`, the data items waiting in the meter's outbox when it was made.
// Only the latest per meter is kept, in memory (a gauge, not history: nothing to store), and
// "latest" is by data seq, so a late reading replayed from the outbox never overwrites a newer
// figure. One entry per meter that reported; the data handler only records registered meters,
// so the map is bounded by the registry (STYLE §9).

export interface BacklogSummary {
  /** Meters whose latest reading carried a backlog. */
  reporting: number;
  /** Of those, the meters with at least one item waiting. */
  backlogged: number;
  /** Items waiting, summed over the meters. */
  items: number;
  /** The largest backlog of any one meter; 0 when none reported. */
  max: number;
}

export interface OutboxBacklog {
  /** A reading with data seq `seq` said `items` were waiting. Older seqs than known are ignored. */
  report(meterId: string, seq: number, items: number): void;
  /** The meter's latest reported backlog, if any. */
  of(meterId: string): number | undefined;
  /** Forgets a meter (e.g. removed from the registry). */
  forget(meterId: string): void;
  summary(): BacklogSummary;
}

export function createOutboxBacklog(): OutboxBacklog {
  const latest = new Map<string, { seq: number; items: number }>();
  return {
    report(meterId, seq, items) {
      const known = latest.get(meterId);
      if (known && known.seq >= seq) return;
      latest.set(meterId, { seq, items });
    },
    of(meterId) {
      return latest.get(meterId)?.items;
    },
    forget(meterId) {
      latest.delete(meterId);
    },
    summary() {
      let backlogged = 0;
      let items = 0;
      let max = 0;
      for (const entry of latest.values()) {
        if (entry.items > 0) backlogged += 1;
        items += entry.items;
        if (entry.items > max) max = entry.items;
      }
      return { reporting: latest.size, backlogged, items, max };
    },
  };
}
