import { DATA_LIMITS } from '../../src/protocol/data.js';
import type { MeterEvent, RegisterValue } from '../meter/model.js';
import type { AuditEntry } from '../security/audit-entry.js';
import type { DataDraft } from './outbox.js';

// What the meter and the audit trail produce, as the data items of PROTOCOL §6 (and our audit
// extension). Anything that would break the wire limits is cut here, so an odd command line
// never makes an audit entry unsendable.

/**
 * `backlog`: the data items waiting in the outbox (unacknowledged) as the reading is made, which
 * the service reports as the fleet's outbox depth (our extension, docs/protocol.md "Data").
 */
export function readingDraft(values: RegisterValue[], at: Date, backlog?: number): DataDraft {
  return {
    kind: 'reading',
    ts: at.toISOString(),
    values: values.map(({ id, value, unit }) => ({ id, value, unit })),
    ...(backlog === undefined ? {} : { backlog }),
  };
}

export function eventDraft(event: MeterEvent): DataDraft {
  return {
    kind: 'event',
    ts: event.ts.toISOString(),
    type: event.type,
    ...(event.phase ? { phase: event.phase } : {}),
    ...(event.magnitude === undefined
      ? {}
      : { magnitude: Math.round(event.magnitude * 1e4) / 1e4 }),
    ...(event.durationMs === undefined ? {} : { durationMs: Math.round(event.durationMs) }),
    ...(event.detail ? { detail: token(event.detail) } : {}),
  };
}

export function auditDraft(entry: AuditEntry): DataDraft {
  const args: Record<string, string[]> = {};
  let budget: number = DATA_LIMITS.argValues;
  for (const [name, values] of Object.entries(entry.args)) {
    const kept = values.slice(0, budget).map((v) => clean(v, DATA_LIMITS.argChars));
    budget -= kept.length;
    if (kept.length > 0 && name !== '') {
      Object.defineProperty(args, name.slice(0, 64), {
        value: kept,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return {
    kind: 'audit',
    ts: new Date(entry.ts).toISOString(),
    from: clean(entry.from, 3071) || 'unknown',
    via: entry.via,
    command: token(entry.command),
    args,
    outcome: entry.outcome,
    ...(entry.condition ? { condition: token(entry.condition) } : {}),
    detail: clean(entry.detail, DATA_LIMITS.detailChars),
  };
}

/** Control characters become spaces (XML 1.0 forbids most of them), then the text is cut. */
function clean(text: string, max: number): string {
  return text.replace(/\p{Cc}/gu, ' ').slice(0, max);
}

/** A lower-case token of at most 64 characters, 'unknown' if nothing is left. */
function token(text: string): string {
  const cut = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return cut === '' ? 'unknown' : cut;
}
