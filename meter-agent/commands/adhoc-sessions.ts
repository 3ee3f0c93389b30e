import { randomBytes } from 'node:crypto';
import { bareJid } from '../../src/protocol/meter-id.js';

// XEP-0050 §3.4 sessions of our single-stage commands: opened when a client asks for a form,
// closed when it submits or cancels. Bounded and expiring (STYLE §9): at most `maxSessions`,
// at most `maxPerRequester` per bare JID (past either the oldest is dropped), each lives
// `ttlMs`. No timers: expiry is checked on use.

export interface SessionSettings {
  maxSessions: number;
  /** Per requester (bare JID): asking for forms is free, so one sender must not crowd others out. */
  maxPerRequester: number;
  ttlMs: number;
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = {
  maxSessions: 64,
  maxPerRequester: 8,
  ttlMs: 5 * 60_000,
};

export type SessionLookup = 'open' | 'expired' | 'unknown';

export interface AdhocSessions {
  /** A new session of `owner` (full JID) on `node`; returns its id. */
  open(node: string, owner: string): string;
  /** Whether the session is usable by this owner on this node; an expired one is forgotten. */
  check(id: string, node: string, owner: string): SessionLookup;
  /** Ends a session (completed or canceled); only its owner can. */
  close(id: string, owner: string): void;
  /** A fresh id for a one-shot run, which completes at once and keeps no session. */
  newId(): string;
  readonly size: number;
}

interface Session {
  node: string;
  owner: string;
  expiresAtMs: number;
}

export function createAdhocSessions(
  settings: SessionSettings = DEFAULT_SESSION_SETTINGS,
  nowMs: () => number = Date.now,
  newId: () => string = () => randomBytes(12).toString('base64url'),
): AdhocSessions {
  const sessions = new Map<string, Session>();

  const dropExpired = (now: number) => {
    for (const [id, session] of sessions) if (session.expiresAtMs <= now) sessions.delete(id);
  };

  return {
    open(node, owner) {
      const now = nowMs();
      dropExpired(now);
      const requester = bareJid(owner);
      const own = [...sessions].filter(([, s]) => bareJid(s.owner) === requester);
      // Oldest first (Map order): the requester's own go before anyone else's.
      while (own.length >= settings.maxPerRequester) sessions.delete(own.shift()?.[0] as string);
      while (sessions.size >= settings.maxSessions) {
        const oldest = sessions.keys().next().value;
        if (oldest === undefined) break;
        sessions.delete(oldest);
      }
      const id = newId();
      sessions.set(id, { node, owner, expiresAtMs: now + settings.ttlMs });
      return id;
    },
    check(id, node, owner) {
      const session = sessions.get(id);
      // Someone else's session, or another node's, is no session of this requester's.
      if (!session || session.owner !== owner || session.node !== node) return 'unknown';
      if (session.expiresAtMs <= nowMs()) {
        sessions.delete(id);
        return 'expired';
      }
      return 'open';
    },
    close(id, owner) {
      if (sessions.get(id)?.owner === owner) sessions.delete(id);
    },
    newId,
    get size() {
      return sessions.size;
    },
  };
}
