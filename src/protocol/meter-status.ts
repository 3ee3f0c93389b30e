import xml, { type Element } from '@xmpp/xml';
import { z } from 'zod';
import { NS_METER } from './namespaces.js';
import { fail, ok, type Parsed } from './result.js';
import { METER_STATES, type MeterState, SHOW_FOR_STATE } from './states.js';

// PROTOCOL §1: the <meter xmlns='urn:gridpresence:meter:1'/> extension, carried in every
// presence an agent sends and in the answer to the status query (§3).

export interface MeterReason {
  code: string;
  text?: string;
}

export interface MeterStatus {
  state: MeterState;
  /** Counts state changes, starts at 1, survives restarts. */
  seq: number;
  /** RFC 3339 UTC, the meter's clock when the state began. */
  since: string;
  /** `revenue-meter`, `relay`, `gateway` or another IED kind. */
  kind: string;
  reason?: MeterReason;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** A lower-case token: an IED kind or a reason code (PROTOCOL §1). */
export const TOKEN_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
const TOKEN = TOKEN_PATTERN;

export const meterStatusSchema = z.object({
  state: z.enum(METER_STATES),
  seq: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  since: z.string().regex(RFC3339, 'since must be an RFC 3339 timestamp'),
  kind: z.string().regex(TOKEN, 'kind must be a lower-case token'),
  reason: z
    .object({
      code: z.string().regex(TOKEN, 'reason code must be a lower-case token'),
      text: z.string().max(1024).optional(),
    })
    .optional(),
});

/** Parses a <meter/> element (PROTOCOL §1). Never throws. */
export function parseMeterElement(element: Element): Parsed<MeterStatus> {
  if (element.name !== 'meter' || element.attrs.xmlns !== NS_METER) {
    return fail(`expected <meter xmlns='${NS_METER}'>`);
  }
  const reasonEl = element.getChild('reason');
  const candidate = {
    state: element.attrs.state,
    seq: element.attrs.seq,
    since: element.attrs.since,
    kind: element.attrs.kind,
    reason: reasonEl
      ? { code: reasonEl.attrs.code, text: reasonEl.getText() || undefined }
      : undefined,
  };
  if (candidate.seq === undefined || !/^\d+$/.test(String(candidate.seq))) {
    return fail('meter/@seq must be a positive integer');
  }
  const parsed = meterStatusSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`meter/@${issue?.path.join('/') ?? '?'}: ${issue?.message ?? 'invalid'}`);
  }
  return ok(stripUndefined(parsed.data));
}

export function buildMeterElement(status: MeterStatus, withNamespace = true): Element {
  const attrs: Record<string, string> = {
    state: status.state,
    seq: String(status.seq),
    since: status.since,
    kind: status.kind,
  };
  if (withNamespace) attrs.xmlns = NS_METER;
  const reason = status.reason
    ? xml('reason', { code: status.reason.code }, status.reason.text ?? '')
    : undefined;
  return xml('meter', attrs, ...(reason ? [reason] : []));
}

/** The human text for <status>: what a chat client shows beside the contact. */
export function describeStatus(status: MeterStatus): string {
  const label = status.state[0]?.toUpperCase() + status.state.slice(1);
  if (!status.reason) return label;
  return `${label}: ${status.reason.text ? status.reason.text : status.reason.code}`;
}

/**
 * PROTOCOL §1: the presence an agent sends. Decoupled is `type='unavailable'` (still with the
 * extension, so the service learns the reason, e.g. `shutdown`).
 */
export function buildMeterPresence(status: MeterStatus, to?: string): Element {
  const attrs: Record<string, string> = {};
  if (to) attrs.to = to;
  const children: Element[] = [];
  if (status.state === 'decoupled') {
    attrs.type = 'unavailable';
  } else {
    const show = SHOW_FOR_STATE[status.state];
    if (show) children.push(xml('show', {}, show));
  }
  children.push(xml('status', {}, describeStatus(status)));
  children.push(buildMeterElement(status));
  return xml('presence', attrs, ...children);
}

export type MeterPresence =
  /** A presence carrying a valid <meter/>. */
  | { kind: 'status'; status: MeterStatus }
  /** `type='unavailable'` with no extension: the server reports the meter's session gone. */
  | { kind: 'server-unavailable' }
  /** Missing or malformed extension: a protocol error for that meter (PROTOCOL §1). */
  | { kind: 'protocol-error'; error: string };

/** Reads a meter's presence as the service sees it. Never throws. */
export function parseMeterPresence(presence: Element): MeterPresence {
  const meterEl = presence.getChild('meter', NS_METER);
  if (!meterEl) {
    if (presence.attrs.type === 'unavailable') return { kind: 'server-unavailable' };
    return { kind: 'protocol-error', error: `presence without <meter xmlns='${NS_METER}'>` };
  }
  const parsed = parseMeterElement(meterEl);
  if (!parsed.ok) return { kind: 'protocol-error', error: parsed.error };
  const status = parsed.value;
  const isUnavailable = presence.attrs.type === 'unavailable';
  if (isUnavailable !== (status.state === 'decoupled')) {
    return {
      kind: 'protocol-error',
      error: `meter state '${status.state}' contradicts presence type '${presence.attrs.type ?? 'available'}'`,
    };
  }
  return { kind: 'status', status };
}

function stripUndefined(status: z.infer<typeof meterStatusSchema>): MeterStatus {
  const out: MeterStatus = {
    state: status.state,
    seq: status.seq,
    since: status.since,
    kind: status.kind,
  };
  if (status.reason) {
    out.reason = { code: status.reason.code };
    if (status.reason.text) out.reason.text = status.reason.text;
  }
  return out;
}
