import type { Client } from '@xmpp/client';
import type { Logger } from '../../src/log.js';
import { buildMeterPresence, type MeterStatus } from '../../src/protocol/meter-status.js';

// Sends the meter's presence (PROTOCOL §1) to the server, which broadcasts it to the presence
// service and every approved subscriber. While offline nothing is sent: on the next session the
// current status is announced, so the service sees the latest state, not a replay.

export interface PresenceAnnouncer {
  /** The session can carry stanzas (after XEP-0198 is settled) or not. */
  setReady(ready: boolean): void;
  announce(status: MeterStatus): Promise<void>;
  /**
   * The current presence again, directed to `to` only (docs/liveness.md heartbeat): a sign of
   * life for the service that operators' clients never see. Nothing while decoupled or offline.
   */
  heartbeat(status: MeterStatus, to: string): Promise<void>;
  /** The seq of the last presence handed to the socket, 0 if none. */
  readonly lastSentSeq: number;
}

export function createPresenceAnnouncer(deps: {
  xmpp: Client;
  logger: Logger;
  /** Resolves once `seq` is on disk (seq-store.ts): no presence carries a seq before that. */
  durable?: (seq: number) => Promise<void>;
}): PresenceAnnouncer {
  const { xmpp, logger } = deps;
  const durable = deps.durable ?? (() => Promise.resolve());
  let ready = false;
  let lastSentSeq = 0;
  return {
    setReady(value) {
      ready = value;
    },
    async announce(status) {
      if (!ready) return;
      try {
        await durable(status.seq);
        await xmpp.send(buildMeterPresence(status));
        lastSentSeq = status.seq;
        logger.debug({ seq: status.seq, state: status.state }, 'presence sent');
      } catch (error) {
        // The connection went away; the next session announces the then-current status.
        logger.warn({ err: (error as Error).message, seq: status.seq }, 'presence not sent');
      }
    },
    async heartbeat(status, to) {
      if (!ready || status.state === 'decoupled') return;
      try {
        await durable(status.seq);
        await xmpp.send(buildMeterPresence(status, to));
      } catch (error) {
        logger.debug({ err: (error as Error).message }, 'heartbeat not sent');
      }
    },
    get lastSentSeq() {
      return lastSentSeq;
    },
  };
}
