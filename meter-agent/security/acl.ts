import { bareJid, splitJid } from '../../src/protocol/meter-id.js';
import { ROLES, type Role } from '../config.js';

// PROTOCOL §2: roles viewer < operator < admin, granted to bare JIDs or whole domains; the
// presence service is always at least operator.

export interface AclEntry {
  jid: string;
  role: Role;
}

export interface Acl {
  /** The sender's role, or null when the ACL grants nothing. An exact JID beats its domain. */
  roleOf(jid: string): Role | null;
  allows(jid: string, needed: Role): boolean;
}

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function createAcl(entries: readonly AclEntry[], serviceJid: string): Acl {
  const byJid = new Map<string, Role>();
  const byDomain = new Map<string, Role>();
  for (const entry of entries) {
    const key = entry.jid.toLowerCase();
    (key.includes('@') ? byJid : byDomain).set(key, entry.role);
  }
  const service = serviceJid.toLowerCase();
  const existing = byDomain.get(service);
  if (!existing || roleRank(existing) < roleRank('operator')) byDomain.set(service, 'operator');

  const roleOf = (jid: string): Role | null => {
    const { local, domain } = splitJid(jid);
    // A component's JID has no local part: its domain entry is the service itself. A user of a
    // component's domain (e.g. feeder-12@presence.grid.example) is a group, not the service.
    if (local === undefined) return byDomain.get(domain) ?? null;
    return byJid.get(bareJid(jid)) ?? (domain === service ? null : (byDomain.get(domain) ?? null));
  };
  return {
    roleOf,
    allows(jid, needed) {
      const role = roleOf(jid);
      return role !== null && roleRank(role) >= roleRank(needed);
    },
  };
}
