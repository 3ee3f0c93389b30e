import xml, { type Element } from '@xmpp/xml';
import { z } from 'zod';
import { NS_DATA, NS_DELAY } from './namespaces.js';
import { fail, ok, type Parsed } from './result.js';

// PROTOCOL §6: readings and power-quality events, and our extension for the audit report of
// PROTOCOL §2 (docs/protocol.md "Data"). Each travels alone in a `normal` message without a
// body, to the presence service; all three share one data `seq` per meter, so the receiver
// orders them, finds gaps and drops duplicates the same way. A late one carries XEP-0203 <delay/>.

// PROTOCOL §6 event types.
export const DATA_EVENT_TYPES = [
  'sag',
  'swell',
  'interruption',
  'thd-high',
  'tamper',
  'relay',
  'clock',
] as const;
export type DataEventType = (typeof DATA_EVENT_TYPES)[number];

export const PHASES = ['L1', 'L2', 'L3'] as const;
export const AUDIT_VIAS = ['adhoc', 'chat', 'iq'] as const;
export const AUDIT_OUTCOMES = ['ok', 'refused', 'failed'] as const;

/** Limits that keep one data message small (and the service's rows bounded). */
export const DATA_LIMITS = {
  valuesPerReading: 512,
  valueChars: 128,
  unitChars: 16,
  detailChars: 1024,
  argValues: 64,
  argChars: 1024,
} as const;

/** PROTOCOL §6: OBIS id (IEC 62056-61 A-B:C.D.E, optional *F), decimal string, SI unit. */
export interface DataValue {
  id: string;
  value: string;
  /** '' for counts, ratios and ids. */
  unit: string;
}

interface DataItemBase {
  /** The meter's clock when the item was made: RFC 3339, UTC. */
  ts: string;
  /** The data sequence (separate from the presence seq), from 1, kept across restarts. */
  seq: number;
}

export interface ReadingItem extends DataItemBase {
  kind: 'reading';
  values: DataValue[];
  /** Our extension: readings the meter's full outbox dropped since the last one it reported. */
  dropped?: number;
  /**
   * Our extension: data items waiting in the meter's outbox (unacknowledged) when the reading
   * was made, this one not counted (docs/protocol.md "Data"). Absent from older agents.
   */
  backlog?: number;
}

export interface EventItem extends DataItemBase {
  kind: 'event';
  type: DataEventType;
  phase?: (typeof PHASES)[number];
  /** Per-unit of nominal voltage for sag/swell; percent for thd-high. */
  magnitude?: number;
  durationMs?: number;
  /** Our extension: relay open/close/lockout, tamper opened/cleared, clock lost/synced, … */
  detail?: string;
}

/** Our extension (PROTOCOL §2 audit trail): one command carried out or refused. */
export interface AuditItem extends DataItemBase {
  kind: 'audit';
  /** Full JID of who asked. */
  from: string;
  via: (typeof AUDIT_VIAS)[number];
  command: string;
  /** Arguments as received; a name with no values is not sent (absent and empty are alike). */
  args: Record<string, string[]>;
  outcome: (typeof AUDIT_OUTCOMES)[number];
  /** The stanza error condition of a refusal or failure. */
  condition?: string;
  detail: string;
}

export type DataItem = ReadingItem | EventItem | AuditItem;
export type DataKind = DataItem['kind'];

/** A data item as it arrived: with the XEP-0203 stamp if it was sent late. */
export interface DataMessage {
  item: DataItem;
  delay?: { stamp: string; from?: string };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const OBIS_ID = /^\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(\*\d{1,3})?$/;
const TOKEN = /^[a-z0-9][a-z0-9-]{0,63}$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const NO_CONTROL_CHARS = /^[^\p{Cc}]*$/u;

const timestamp = z
  .string()
  .regex(RFC3339, 'must be an RFC 3339 timestamp')
  .refine(isRealInstant, 'must be a real instant');
const positiveInt = 'must be a positive integer';
const nonNegativeInt = 'must be a non-negative integer';
const seq = z
  .number({ error: positiveInt })
  .int(positiveInt)
  .min(1, positiveInt)
  .max(Number.MAX_SAFE_INTEGER);
const text = (max: number) => z.string().max(max).regex(NO_CONTROL_CHARS, 'has control characters');

const valueSchema = z.object({
  id: z.string().regex(OBIS_ID, 'must be an OBIS id like 1-0:1.8.0'),
  value: text(DATA_LIMITS.valueChars).min(1),
  unit: text(DATA_LIMITS.unitChars),
});

const readingSchema = z.object({
  kind: z.literal('reading'),
  ts: timestamp,
  seq,
  values: z
    .array(valueSchema)
    .min(1, 'a reading has at least one <v/>')
    .max(DATA_LIMITS.valuesPerReading)
    .refine((vs) => new Set(vs.map((v) => v.id)).size === vs.length, 'repeats a register id'),
  dropped: z.number({ error: positiveInt }).int(positiveInt).min(1, positiveInt).optional(),
  backlog: z
    .number({ error: nonNegativeInt })
    .int(nonNegativeInt)
    .min(0, nonNegativeInt)
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
});

const eventSchema = z.object({
  kind: z.literal('event'),
  ts: timestamp,
  seq,
  type: z.enum(DATA_EVENT_TYPES),
  phase: z.enum(PHASES).optional(),
  magnitude: z.number({ error: 'must be a decimal number' }).finite().optional(),
  durationMs: z
    .number({ error: 'must be a whole number of milliseconds' })
    .int()
    .min(0, 'must be a whole number of milliseconds')
    .optional(),
  detail: z.string().regex(TOKEN, 'must be a lower-case token').optional(),
});

const auditSchema = z.object({
  kind: z.literal('audit'),
  ts: timestamp,
  seq,
  from: text(3071).min(1),
  via: z.enum(AUDIT_VIAS),
  command: z.string().regex(TOKEN, 'must be a lower-case token'),
  args: z
    .record(z.string().min(1).max(64), z.array(text(DATA_LIMITS.argChars)).min(1))
    .refine(
      (args) => Object.values(args).flat().length <= DATA_LIMITS.argValues,
      `has more than ${DATA_LIMITS.argValues} values`,
    ),
  outcome: z.enum(AUDIT_OUTCOMES),
  condition: z.string().regex(TOKEN, 'must be a lower-case token').optional(),
  detail: text(DATA_LIMITS.detailChars),
});

/** Validates a data item held as a plain object (e.g. read back from the agent's outbox). */
export const dataItemSchema = z.discriminatedUnion('kind', [
  readingSchema,
  eventSchema,
  auditSchema,
]);

/** Checks a plain object; the error names the first bad field. Never throws. */
export function validateDataItem(candidate: unknown): Parsed<DataItem> {
  const parsed = dataItemSchema.safeParse(candidate);
  if (!parsed.success) return fail(describeIssue(parsed.error.issues[0]));
  return ok(stripUndefined(parsed.data) as DataItem);
}

// ---------------------------------------------------------------------------------------------
// Building

/** The data element of PROTOCOL §6 (or our <audit/>), in the data namespace. */
export function buildDataElement(item: DataItem): Element {
  const base = { xmlns: NS_DATA, ts: item.ts, seq: String(item.seq) };
  switch (item.kind) {
    case 'reading':
      return xml(
        'reading',
        definedAttrs({
          ...base,
          dropped: item.dropped ? String(item.dropped) : undefined,
          // 0 is news too: the outbox is empty.
          backlog: item.backlog === undefined ? undefined : String(item.backlog),
        }),
        ...item.values.map((v) => xml('v', { id: v.id, value: v.value, unit: v.unit })),
      );
    case 'event':
      return xml(
        'event',
        definedAttrs({
          ...base,
          type: item.type,
          phase: item.phase,
          magnitude: item.magnitude === undefined ? undefined : formatNumber(item.magnitude),
          'duration-ms': item.durationMs === undefined ? undefined : String(item.durationMs),
          detail: item.detail,
        }),
      );
    case 'audit':
      return xml(
        'audit',
        definedAttrs({
          ...base,
          from: item.from,
          via: item.via,
          command: item.command,
          outcome: item.outcome,
          condition: item.condition,
        }),
        ...Object.entries(item.args).flatMap(([name, values]) =>
          values.map((value) => xml('arg', { name }, value)),
        ),
        xml('detail', {}, item.detail),
      );
  }
}

/**
 * PROTOCOL §6: a `normal` message without a body, one data element. `delay` (XEP-0203 §4) marks
 * an item sent later than it was made; its stamp is the item's own ts.
 */
export function buildDataMessage(options: {
  to: string;
  id: string;
  item: DataItem;
  delay?: { stamp: string; from?: string };
}): Element {
  const message = xml(
    'message',
    { type: 'normal', to: options.to, id: options.id },
    buildDataElement(options.item),
  );
  if (options.delay) message.append(buildDelay(options.delay.stamp, options.delay.from));
  return message;
}

/** XEP-0203 §4: `<delay xmlns='urn:xmpp:delay' stamp='…' from='…'/>`, stamp in UTC. */
export function buildDelay(stamp: string, from?: string): Element {
  return xml('delay', definedAttrs({ xmlns: NS_DELAY, from, stamp }));
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Whether a message carries any element of the data namespace (it is then ours to read). */
export function isDataMessage(message: Element): boolean {
  return message.name === 'message' && dataChildren(message).length > 0;
}

/** Reads a data message as the service receives it. Never throws. */
export function parseDataMessage(message: Element): Parsed<DataMessage> {
  if (message.name !== 'message') return fail('expected <message/>');
  const type = message.attrs.type ?? 'normal';
  if (type !== 'normal') return fail(`data messages are type='normal', not '${type}'`);
  if (message.getChild('body')) return fail('data messages carry no <body/>');
  const payloads = dataChildren(message);
  if (payloads.length !== 1) {
    return fail(`expected one data element in a message, found ${payloads.length}`);
  }
  const item = parseDataElement(payloads[0] as Element);
  if (!item.ok) return item;
  const delayEl = message.getChild('delay', NS_DELAY);
  if (!delayEl) return ok({ item: item.value });
  const stamp = String(delayEl.attrs.stamp ?? '');
  if (!timestamp.safeParse(stamp).success) {
    return fail('delay/@stamp must be an XEP-0082 DateTime (RFC 3339)');
  }
  const delay: DataMessage['delay'] = { stamp };
  if (delayEl.attrs.from) delay.from = String(delayEl.attrs.from);
  return ok({ item: item.value, delay });
}

/** Reads one <reading/>, <event/> or <audit/> of the data namespace. Never throws. */
export function parseDataElement(element: Element): Parsed<DataItem> {
  if (element.getNS() !== NS_DATA) return fail(`expected an element in ${NS_DATA}`);
  const a = element.attrs as Record<string, string | undefined>;
  const common = { ts: a.ts, seq: integer(a.seq) };
  let candidate: Record<string, unknown>;
  switch (element.name) {
    case 'reading':
      candidate = {
        kind: 'reading',
        ...common,
        dropped: a.dropped === undefined ? undefined : integer(a.dropped),
        backlog: a.backlog === undefined ? undefined : integer(a.backlog),
        values: element.getChildren('v').map((v) => ({
          id: v.attrs.id,
          value: v.attrs.value,
          unit: v.attrs.unit ?? '',
        })),
      };
      break;
    case 'event':
      candidate = {
        kind: 'event',
        ...common,
        type: a.type,
        phase: a.phase,
        magnitude: a.magnitude === undefined ? undefined : decimal(a.magnitude),
        durationMs: a['duration-ms'] === undefined ? undefined : integer(a['duration-ms']),
        detail: a.detail,
      };
      break;
    case 'audit': {
      const args = collectArgs(element);
      if (!args.ok) return args;
      candidate = {
        kind: 'audit',
        ...common,
        from: a.from,
        via: a.via,
        command: a.command,
        outcome: a.outcome,
        condition: a.condition,
        args: args.value,
        detail: element.getChildText('detail') ?? '',
      };
      break;
    }
    default:
      return fail(`unknown data element <${element.name}/>`);
  }
  const parsed = dataItemSchema.safeParse(candidate);
  if (!parsed.success) return fail(describeIssue(parsed.error.issues[0], element.name));
  return ok(stripUndefined(parsed.data) as DataItem);
}

function dataChildren(message: Element): Element[] {
  return message.getChildElements().filter((child) => child.getNS() === NS_DATA);
}

function collectArgs(element: Element): Parsed<Record<string, string[]>> {
  // A Map, not an object literal: an argument may be called '__proto__'.
  const args = new Map<string, string[]>();
  for (const arg of element.getChildren('arg')) {
    const name = arg.attrs.name;
    if (typeof name !== 'string' || name === '') return fail('audit/arg: every <arg/> has a name');
    const values = args.get(name) ?? [];
    values.push(arg.getText());
    args.set(name, values);
  }
  return ok(Object.fromEntries(args));
}

/** Attribute text to a number only if it is written as one; otherwise zod reports the text. */
function integer(value: string | undefined): number | string | undefined {
  return value !== undefined && /^\d{1,16}$/.test(value) ? Number(value) : value;
}

function decimal(value: string): number | string {
  return DECIMAL.test(value) ? Number(value) : value;
}

/** A number as a decimal string, never in exponent notation (PROTOCOL §6 decimal strings). */
function formatNumber(value: number): string {
  const plain = String(value);
  return /e/i.test(plain) ? value.toFixed(6).replace(/\.?0+$/, '') : plain;
}

/** Names the attribute or child at fault: `event/@duration-ms`, `reading/v[3]/@id`, `audit/arg`. */
function describeIssue(issue: z.core.$ZodIssue | undefined, element = 'data'): string {
  if (!issue) return `${element}: invalid`;
  const [first, index, field] = issue.path.map(String);
  let where = element;
  if (first === 'values') {
    where += '/v';
    if (index !== undefined) where += `[${Number(index) + 1}]`;
    if (field !== undefined) where += `/@${field}`;
  } else if (first === 'args') {
    where += '/arg';
  } else if (first === 'detail' && element === 'audit') {
    where += '/detail';
  } else if (first !== undefined) {
    where += `/@${first === 'durationMs' ? 'duration-ms' : first}`;
  }
  return `${where}: ${issue.message}`;
}

/** RFC 3339 §5.7: the date must exist (Date.parse would roll 30 February into March). */
function isRealInstant(value: string): boolean {
  if (Number.isNaN(Date.parse(value))) return false;
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function definedAttrs(attrs: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined) out[key] = value;
  return out;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// The register query (issue 3 "machine interfaces"): an IQ get of the current registers,
// answered with a <reading/> like PROTOCOL §6's but without a data seq (it is not part of the
// data stream, so it is neither deduplicated nor replayed).
//   <iq type='get'><reading xmlns='urn:gridpresence:data:1'><v id='1-0:1.8.0'/></reading></iq>
// No <v/> children asks for every register.

/** The register ids asked for (empty: all). Never throws. */
export function parseRegisterQuery(element: Element): Parsed<string[]> {
  if (element.name !== 'reading' || element.attrs.xmlns !== NS_DATA) {
    return fail(`expected <reading xmlns='${NS_DATA}'>`);
  }
  const ids: string[] = [];
  for (const [index, v] of element.getChildren('v').entries()) {
    const id = String(v.attrs.id ?? '');
    if (!OBIS_ID.test(id))
      return fail(`reading/v[${index + 1}]/@id must be an OBIS id like 1-0:1.8.0`);
    ids.push(id);
  }
  if (ids.length > DATA_LIMITS.valuesPerReading) {
    return fail(`at most ${DATA_LIMITS.valuesPerReading} registers`);
  }
  return ok(ids);
}

export function buildRegisterAnswer(answer: { ts: string; values: readonly DataValue[] }): Element {
  return xml(
    'reading',
    { xmlns: NS_DATA, ts: answer.ts },
    ...answer.values.map((v) => xml('v', { id: v.id, value: v.value, unit: v.unit })),
  );
}
