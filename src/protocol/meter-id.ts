import { z } from 'zod';

// PROTOCOL "Names": meter ids are [a-z0-9][a-z0-9-]{0,62}, the agent's resource is `agent`.
export const METER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const AGENT_RESOURCE = 'agent';

export const meterIdSchema = z
  .string()
  .regex(METER_ID_PATTERN, 'meter ids are lower-case letters, digits and "-", 1-63 characters');

export function isMeterId(value: string): boolean {
  return METER_ID_PATTERN.test(value);
}

export function meterBareJid(meterId: string, domain: string): string {
  return `${meterId}@${domain}`;
}

export function meterFullJid(meterId: string, domain: string): string {
  return `${meterId}@${domain}/${AGENT_RESOURCE}`;
}

export function serviceJid(domain: string): string {
  return `presence.${domain}`;
}

export interface ParsedJid {
  local: string | undefined;
  domain: string;
  resource: string | undefined;
}

/** RFC 7622 split, enough for routing decisions (no stringprep: our ids are already canonical). */
export function splitJid(jid: string): ParsedJid {
  const slash = jid.indexOf('/');
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  const resource = slash === -1 ? undefined : jid.slice(slash + 1);
  const at = bare.indexOf('@');
  const local = at === -1 ? undefined : bare.slice(0, at).toLowerCase();
  const domain = (at === -1 ? bare : bare.slice(at + 1)).toLowerCase();
  return { local, domain, resource };
}

export function bareJid(jid: string): string {
  const { local, domain } = splitJid(jid);
  return local === undefined ? domain : `${local}@${domain}`;
}
