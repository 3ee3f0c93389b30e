import type { MeterState } from '../../src/protocol/states.js';
import type { AlertsConfig } from '../config.js';
import type { RecordedChange } from '../store/presence-store.js';

// Which state changes become alerts to operators, and which of those are sent now (issue 4 §5,
// docs/liveness.md). Pure: no clock, no store, no socket; the alert service feeds it recorded
// changes and ticks with the time, stores every decision and sends what it is told to send.
//
// - `decoupled` when a meter we knew coupled is lost; `recovered` when it comes back from
//   `decoupled` (if `onRecovery`). A meter never seen before (prevState null) was not lost.
// - Flapping: more than `flapping.changes` state changes within `flapping.windowMin` raise ONE
//   `flapping` alert; the meter's alerts after it are stored as folded ('flapping') and not sent
//   until it has been quiet for the window, when one notice says it is stable again and how.
// - Dedup: the same meter and kind is raised at most once per `repeatAfterS`; repeats are
//   stored as 'duplicate'.
// - Rate limit, per recipient: at most `maxPerMinute` messages in any 60 s. What does not fit is
//   held back (an alert stays open in the store) and counted; as soon as the recipient has room
//   again ONE summary says how many were held back and where to see them, so a feeder outage of
//   2,000 meters is about maxPerMinute messages, not 2,000.
//
// Memory is bounded: a meter is forgotten once it has been quiet for the flapping window, a
// dedup key after repeatAfterS, a send time after a minute; at most changes+1 times per meter.

export type AlertKind = 'decoupled' | 'recovered' | 'flapping';
/** 'sent', or why not (migration 5, alerts.delivery). */
export type AlertDelivery = 'sent' | 'duplicate' | 'rate-limited' | 'flapping';

export interface Recipient {
  channel: 'xmpp' | 'email';
  /** A bare JID or an e-mail address. */
  address: string;
}

/** One alert to store; `to` lists whom to send it to now (empty unless delivery is 'sent'). */
export interface AlertDecision {
  meterId: string;
  kind: AlertKind;
  /** When the policy raised it (ISO 8601 UTC). */
  raisedAt: string;
  historyId: number;
  state: MeterState;
  reasonCode: string | null;
  /** What happened, one line without the alert id (the store assigns it). */
  text: string;
  delivery: AlertDelivery;
  to: Recipient[];
}

/** A message that is not an alert (nothing to acknowledge, not stored): sent to `to`. */
export interface AlertNotice {
  kind: 'stable' | 'held-back';
  /** The meter that is stable again; absent for a held-back summary. */
  meterId?: string;
  text: string;
  to: Recipient[];
}

export interface PolicyOutput {
  alerts: AlertDecision[];
  notices: AlertNotice[];
}

export type AlertPolicySettings = Pick<
  AlertsConfig,
  'onRecovery' | 'flapping' | 'repeatAfterS' | 'maxPerMinute'
>;

export interface AlertPolicy {
  /** A recorded change (from the change bus) at `now`. */
  onChange(change: RecordedChange, now: Date): PolicyOutput;
  /** Ends flapping for meters quiet for the window, sends due summaries, forgets old state. */
  tick(now: Date): PolicyOutput;
  /** What it remembers, to show that memory stays bounded. */
  size(): { meters: number; changeTimes: number; dedupKeys: number; sendTimes: number };
}

const RATE_WINDOW_MS = 60_000;

interface MeterTrack {
  /** Times (ms) of its latest state changes, oldest first, at most `changes + 1`. */
  changes: number[];
  flapping: boolean;
  /** Its latest change: `at` on the policy's clock (for the window), `receivedAt` as recorded. */
  last: { state: MeterState; reasonCode: string | null; at: number; receivedAt: string };
}

interface RecipientTrack {
  recipient: Recipient;
  /** Times (ms) of messages sent in the last minute, oldest first. */
  sentAt: number[];
  heldAlerts: number;
  heldNotices: number;
  heldSince: number | null;
}

export function createAlertPolicy(
  settings: AlertPolicySettings,
  recipients: readonly Recipient[],
): AlertPolicy {
  const windowMs = settings.flapping.windowMin * 60_000;
  const maxChanges = settings.flapping.changes;
  const repeatMs = settings.repeatAfterS * 1000;
  const meters = new Map<string, MeterTrack>();
  /** `${meterId} ${kind}` → when it was last raised for operators (sent or held back). */
  const lastRaised = new Map<string, number>();
  const tracks: RecipientTrack[] = recipients.map((recipient) => ({
    recipient,
    sentAt: [],
    heldAlerts: 0,
    heldNotices: 0,
    heldSince: null,
  }));

  /** Recipients with room for one more message now; the others count it as held back. */
  function admit(now: number, what: 'alert' | 'notice'): Recipient[] {
    const to: Recipient[] = [];
    for (const track of tracks) {
      if (hasRoom(track, now)) {
        track.sentAt.push(now);
        to.push(track.recipient);
        continue;
      }
      if (what === 'alert') track.heldAlerts++;
      else track.heldNotices++;
      track.heldSince ??= now;
    }
    return to;
  }

  function hasRoom(track: RecipientTrack, now: number): boolean {
    while (track.sentAt.length > 0 && (track.sentAt[0] as number) <= now - RATE_WINDOW_MS) {
      track.sentAt.shift();
    }
    return track.sentAt.length < settings.maxPerMinute;
  }

  /** The summary goes before anything else once there is room, so it is never starved. */
  function flushSummaries(now: number): AlertNotice[] {
    const notices: AlertNotice[] = [];
    for (const track of tracks) {
      if (track.heldSince === null || !hasRoom(track, now)) continue;
      track.sentAt.push(now);
      notices.push({
        kind: 'held-back',
        text: heldBackText(track, settings.maxPerMinute),
        to: [track.recipient],
      });
      track.heldAlerts = 0;
      track.heldNotices = 0;
      track.heldSince = null;
    }
    return notices;
  }

  function raise(kind: AlertKind, change: RecordedChange, text: string, now: number) {
    const key = `${change.meterId} ${kind}`;
    const last = lastRaised.get(key);
    if (last !== undefined && now - last < repeatMs) {
      return decision(kind, change, text, now, 'duplicate', []);
    }
    lastRaised.set(key, now);
    const to = admit(now, 'alert');
    // With no recipient configured an alert is still raised: it is open in the API.
    const delivery = to.length > 0 || tracks.length === 0 ? 'sent' : 'rate-limited';
    return decision(kind, change, text, now, delivery, to);
  }

  function alertKindOf(change: RecordedChange): Exclude<AlertKind, 'flapping'> | null {
    if (change.state === 'decoupled') return 'decoupled';
    if (change.prevState === 'decoupled') return settings.onRecovery ? 'recovered' : null;
    return null;
  }

  /** A meter quiet for the window is forgotten; if it was flapping, operators hear it is calm. */
  function settle(meterId: string, track: MeterTrack, now: number, out: PolicyOutput): void {
    meters.delete(meterId);
    if (!track.flapping) return;
    const text = stableText(meterId, track.last, settings.flapping.windowMin);
    const to = admit(now, 'notice');
    if (to.length > 0) out.notices.push({ kind: 'stable', meterId, text, to });
  }

  function forgetOld(now: number): void {
    for (const [key, at] of lastRaised) if (now - at >= repeatMs) lastRaised.delete(key);
    for (const track of tracks) hasRoom(track, now);
  }

  return {
    onChange(change, at) {
      const now = at.getTime();
      const out: PolicyOutput = { alerts: [], notices: flushSummaries(now) };
      // Only a change of state counts: a new reason text is not flapping, and a first sighting
      // (prevState null, e.g. every meter at the first start) is not a loss or a recovery.
      if (change.prevState === null || change.prevState === change.state) return out;

      const known = meters.get(change.meterId);
      // Quiet for the window but not yet ticked: that flapping episode is over first.
      if (known && now - known.last.at >= windowMs) settle(change.meterId, known, now, out);
      const track = meters.get(change.meterId) ?? newTrack(change, now);
      meters.set(change.meterId, track);
      track.changes.push(now);
      while (
        track.changes.length > maxChanges + 1 ||
        (track.changes[0] as number) <= now - windowMs
      ) {
        track.changes.shift();
      }
      track.last = lastOf(change, now);

      const kind = alertKindOf(change);
      if (track.flapping) {
        // Folded into the meter's flapping alert: kept for the record, not sent.
        if (kind)
          out.alerts.push(decision(kind, change, describeAlert(kind, change), now, 'flapping'));
        return out;
      }
      if (track.changes.length > maxChanges) {
        track.flapping = true;
        const text = flappingText(change, track.changes.length, settings.flapping.windowMin);
        out.alerts.push(raise('flapping', change, text, now));
        return out;
      }
      if (kind) out.alerts.push(raise(kind, change, describeAlert(kind, change), now));
      return out;
    },

    tick(at) {
      const now = at.getTime();
      const out: PolicyOutput = { alerts: [], notices: flushSummaries(now) };
      for (const [meterId, track] of meters) {
        if (now - track.last.at >= windowMs) settle(meterId, track, now, out);
      }
      forgetOld(now);
      return out;
    },

    size() {
      return {
        meters: meters.size,
        changeTimes: [...meters.values()].reduce((n, m) => n + m.changes.length, 0),
        dedupKeys: lastRaised.size,
        sendTimes: tracks.reduce((n, t) => n + t.sentAt.length, 0),
      };
    },
  };
}

function newTrack(change: RecordedChange, now: number): MeterTrack {
  return { changes: [], flapping: false, last: lastOf(change, now) };
}

function lastOf(change: RecordedChange, now: number): MeterTrack['last'] {
  const { state, reasonCode, receivedAt } = change;
  return { state, reasonCode, at: now, receivedAt };
}

function decision(
  kind: AlertKind,
  change: RecordedChange,
  text: string,
  now: number,
  delivery: AlertDelivery,
  to: Recipient[] = [],
): AlertDecision {
  return {
    meterId: change.meterId,
    kind,
    raisedAt: new Date(now).toISOString(),
    historyId: change.id,
    state: change.state,
    reasonCode: change.reasonCode,
    text,
    delivery,
    to,
  };
}

/** UTC to the second: what a duty operator reads; the store keeps the milliseconds. */
export function utcSecond(iso: string | number): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const stateWithReason = (state: MeterState, reasonCode: string | null) =>
  reasonCode ? `${state} (${reasonCode})` : state;

/** "mtr-0007 decoupled (no-response) at 2026-11-27T12:00:03Z". */
function describeAlert(kind: 'decoupled' | 'recovered', change: RecordedChange): string {
  const at = utcSecond(change.receivedAt);
  const now = stateWithReason(change.state, change.reasonCode);
  return kind === 'decoupled'
    ? `${change.meterId} ${now} at ${at}`
    : `${change.meterId} recovered: ${now} at ${at}`;
}

function flappingText(change: RecordedChange, changes: number, windowMin: number): string {
  return (
    `${change.meterId} flapping: ${changes} state changes within ${windowMin} min, now ` +
    `${stateWithReason(change.state, change.reasonCode)} at ${utcSecond(change.receivedAt)}; ` +
    'no more alerts for it until it is stable'
  );
}

function stableText(meterId: string, last: MeterTrack['last'], windowMin: number): string {
  return (
    `STABLE: ${meterId} has not changed state for ${windowMin} min: ` +
    `${stateWithReason(last.state, last.reasonCode)} since ${utcSecond(last.receivedAt)}.`
  );
}

function heldBackText(track: RecipientTrack, maxPerMinute: number): string {
  const parts = [plural(track.heldAlerts, 'alert')];
  if (track.heldNotices > 0) parts.push(plural(track.heldNotices, 'stability notice'));
  return (
    `HELD BACK: ${parts.join(' and ')} since ${utcSecond(track.heldSince ?? 0)} ` +
    `(limit ${maxPerMinute} messages a minute). Send "alerts" for the open ones, ` +
    'or GET /api/alerts?open=true.'
  );
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
