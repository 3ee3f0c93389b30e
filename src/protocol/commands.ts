import { CMD_NODE_PREFIX } from './namespaces.js';

// PROTOCOL §2 and §4–§5: the command vocabulary both apps speak — the roles, the command names
// (ad-hoc nodes and chat-only lines), the role each command needs, and the raw form values a
// door collects. What a command does lives with the meter agent; who may ask is the contract.

/** PROTOCOL §2: roles, lowest first. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** PROTOCOL §4: the ad-hoc command nodes `urn:gridpresence:cmd:<name>`. */
export const COMMAND_NAMES = [
  'read',
  'pq',
  'relay',
  'load-limit',
  'maintenance',
  'reporting',
] as const;
export type AdhocCommandName = (typeof COMMAND_NAMES)[number];

/** PROTOCOL §5: lines that exist only in chat (a chat client has no disco or status query). */
export const CHAT_ONLY_COMMAND_NAMES = ['help', 'status'] as const;

/**
 * Ad-hoc commands of this implementation beyond PROTOCOL §4 (docs/protocol.md, "Extensions"):
 * the agent offers them to its own admins; the service does not fan them out to groups.
 */
export const EXTENSION_COMMAND_NAMES = ['log-level'] as const;
export type ExtensionCommandName = (typeof EXTENSION_COMMAND_NAMES)[number];

export type CommandName =
  | AdhocCommandName
  | (typeof CHAT_ONLY_COMMAND_NAMES)[number]
  | ExtensionCommandName;

/** PROTOCOL §2 and §4: the lowest role that may run each command. */
export const COMMAND_ROLES: Readonly<Record<CommandName, Role>> = {
  help: 'viewer',
  status: 'viewer',
  read: 'viewer',
  pq: 'viewer',
  relay: 'operator',
  'load-limit': 'operator',
  maintenance: 'operator',
  reporting: 'operator',
  'log-level': 'admin',
};

/** What a front door collected: raw strings per field, as a submitted form would carry them. */
export type RawArgs = Record<string, string[]>;

export function isAdhocCommandName(name: string): name is AdhocCommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}

export function isExtensionCommandName(name: string): name is ExtensionCommandName {
  return (EXTENSION_COMMAND_NAMES as readonly string[]).includes(name);
}

/** PROTOCOL "Names": `urn:gridpresence:cmd:<name>`. */
export function commandNode(name: CommandName): string {
  return `${CMD_NODE_PREFIX}${name}`;
}

/** PROTOCOL §2: whether `role` is at least `needed`. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
