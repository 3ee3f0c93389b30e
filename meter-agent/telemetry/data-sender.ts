import type { Element } from '@xmpp/xml';
import type { Logger } from '../../src/log.js';
import { buildDataMessage, type DataItem } from '../../src/protocol/data.js';
import { bareJid } from '../../src/protocol/meter-id.js';
import { NS_DATA, NS_STANZAS } from '../../src/protocol/namespaces.js';
import { type Backoff, createBackoff } from '../../src/xmpp/backoff.js';
import type { Outbox } from './outbox.js';

// The XMPP edge of the outbox: sends what is on disk to the presence service and removes it when
// the server acknowledges it (XEP-0198 §4). Each message has the id `d<seq>`, by which an ack
// (or a bounce) finds its item.
//
// - New session (not a resumption): xmpp.js reports everything it had in flight as `fail`; those
//   items, and everything queued while offline, go out again in seq order with XEP-0203 <delay/>.
// - Resumption (XEP-0198 §5): xmpp.js resends its own in-memory queue; we send only what it never
//   had, so nothing is sent twice by us (the service drops duplicates by seq anyway).
// - An XEP-0198 ack means the *server* has the stanza, not the service: Prosody bounces a message
//   to a disconnected component with an error, before the ack of that message. A bounced item is
//   kept, sending stops, and after a backoff the oldest item alone goes out as a probe; once the
//   probe is acknowledged without a bounce, the rest follows in order.

/** What the sender needs of an xmpp.js Client (structural, so tests can supply a fake). */
export interface DataLink {
  send(stanza: Element): Promise<unknown>;
  on(event: 'stanza', listener: (stanza: Element) => void): unknown;
  removeListener(event: 'stanza', listener: (stanza: Element) => void): unknown;
  streamManagement: {
    enabled: boolean;
    on(event: 'ack' | 'fail', listener: (stanza: Element) => void): unknown;
    removeListener(event: 'ack' | 'fail', listener: (stanza: Element) => void): unknown;
  };
}

export interface DataSender {
  /** The session can carry stanzas (after XEP-0198 is settled), or it was lost. */
  setReady(ready: boolean): void;
  /** `seq` was just put in the outbox: send it (without <delay/>) if the session allows. */
  notify(seq: number): void;
  readonly inFlight: number;
  /** The service bounced data and we wait to probe it again. */
  readonly held: boolean;
  /** Stops sending, waits up to `timeoutMs` for outstanding acks, then detaches. */
  stop(timeoutMs?: number): Promise<void>;
}

const ID_PREFIX = 'd';

export const dataMessageId = (seq: number): string => `${ID_PREFIX}${seq}`;

export function createDataSender(deps: {
  xmpp: DataLink;
  outbox: Outbox;
  serviceJid: string;
  logger: Logger;
  backoff?: Backoff;
}): DataSender {
  const { xmpp, outbox, serviceJid, logger } = deps;
  const backoff = deps.backoff ?? createBackoff({ baseMs: 1_000, maxMs: 60_000 });
  /** seq → whether XEP-0198 accounts for it (an ack or a fail will come). */
  const inFlight = new Map<number, { managed: boolean }>();
  const bounced = new Set<number>();
  const fresh = new Set<number>();
  let ready = false;
  let held = false;
  let stopped = false;
  let probeSeq: number | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let flushTimer: NodeJS.Immediate | undefined;
  let drained: (() => void) | undefined;

  const hasManagedInFlight = () => [...inFlight.values()].some((f) => f.managed);

  const seqOf = (stanza: Element): number | undefined => {
    if (!stanza.is('message')) return undefined;
    const match = /^d(\d{1,15})$/.exec(String(stanza.attrs.id ?? ''));
    return match ? Number(match[1]) : undefined;
  };

  const send = (item: DataItem, late: boolean): void => {
    const managed = xmpp.streamManagement.enabled;
    inFlight.set(item.seq, { managed });
    // XEP-0203 §4: the stamp says when the item was made, not when it was sent.
    const stanza = buildDataMessage({
      to: serviceJid,
      id: dataMessageId(item.seq),
      item,
      ...(late ? { delay: { stamp: item.ts } } : {}),
    });
    xmpp.send(stanza).catch((error: Error) => {
      // The connection went meanwhile. A managed stanza is in xmpp.js's queue: resent on a
      // resumption, reported as `fail` otherwise. An unmanaged one is simply sent again later.
      logger.debug({ seq: item.seq, err: error.message }, 'data send failed');
      if (!managed) inFlight.delete(item.seq);
    });
  };

  const flush = (): void => {
    const justMade = new Set(fresh);
    fresh.clear();
    if (!ready || held || stopped) return;
    for (const item of outbox.pending()) {
      if (!inFlight.has(item.seq)) send(item, !justMade.has(item.seq));
    }
  };

  const scheduleProbe = (): void => {
    if (retryTimer || stopped) return;
    retryTimer = setTimeout(probe, backoff.next());
  };

  function probe(): void {
    retryTimer = undefined;
    if (!ready || stopped) return; // the next session probes at once
    const next = outbox.pending().find((item) => !inFlight.has(item.seq));
    if (next) {
      probeSeq = next.seq;
      send(next, true);
    } else if (inFlight.size > 0) {
      scheduleProbe(); // bounced items still wait for their acks
    } else {
      held = false; // nothing left to deliver
    }
  }

  const onAck = (stanza: Element): void => {
    const seq = seqOf(stanza);
    if (seq === undefined || !stanza.getChildElements().some((c) => c.getNS() === NS_DATA)) return;
    inFlight.delete(seq);
    if (bounced.delete(seq)) {
      if (held && probeSeq === undefined) scheduleProbe();
    } else {
      outbox.remove(seq);
      if (seq === probeSeq) {
        probeSeq = undefined;
        held = false;
        backoff.reset();
        logger.info({ pending: outbox.stats.items }, 'the service takes data again');
        flush();
      }
    }
    if (!hasManagedInFlight()) drained?.();
  };

  const onFail = (stanza: Element): void => {
    const seq = seqOf(stanza);
    if (seq === undefined) return;
    inFlight.delete(seq);
    bounced.delete(seq);
    if (seq === probeSeq) probeSeq = undefined;
    if (!hasManagedInFlight()) drained?.();
  };

  const onStanza = (stanza: Element): void => {
    if (stanza.attrs.type !== 'error' || bareJid(String(stanza.attrs.from ?? '')) !== serviceJid) {
      return;
    }
    const seq = seqOf(stanza);
    if (seq === undefined) return;
    if (inFlight.has(seq)) bounced.add(seq);
    else if (!outbox.has(seq)) {
      logger.error({ seq }, 'data bounced after the server acknowledged it: lost');
      return;
    }
    if (seq === probeSeq) probeSeq = undefined;
    if (!held) {
      held = true;
      const condition = stanza
        .getChild('error')
        ?.getChildElements()
        .find((c) => {
          return c.getNS() === NS_STANZAS && c.name !== 'text';
        })?.name;
      logger.warn({ seq, condition }, 'the service did not take data; holding it');
    }
    if (probeSeq === undefined) scheduleProbe();
  };

  xmpp.streamManagement.on('ack', onAck);
  xmpp.streamManagement.on('fail', onFail);
  xmpp.on('stanza', onStanza);

  return {
    setReady(next) {
      ready = next;
      if (!next) {
        clearTimeout(retryTimer);
        retryTimer = undefined;
        for (const [seq, flight] of inFlight) if (!flight.managed) inFlight.delete(seq);
        return;
      }
      if (held) {
        if (probeSeq === undefined) {
          clearTimeout(retryTimer);
          probe();
        }
      } else {
        flush();
      }
    },

    notify(seq) {
      fresh.add(seq);
      // Items committed by one fsync are announced in one turn: send them together.
      flushTimer ??= setImmediate(() => {
        flushTimer = undefined;
        flush();
      });
    },

    get inFlight() {
      return inFlight.size;
    },

    get held() {
      return held;
    },

    async stop(timeoutMs = 1_500) {
      stopped = true;
      clearTimeout(retryTimer);
      if (flushTimer) clearImmediate(flushTimer);
      if (ready && hasManagedInFlight()) {
        // Acks usually follow within xmpp.js's 250 ms request debounce; waiting a little spares
        // the service the duplicates a restart would otherwise send again.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      xmpp.streamManagement.removeListener('ack', onAck);
      xmpp.streamManagement.removeListener('fail', onFail);
      xmpp.removeListener('stanza', onStanza);
    },
  };
}
