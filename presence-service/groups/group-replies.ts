import { CHAT_SYNTAX } from '../../src/protocol/chat-commands.js';
import {
  COMMAND_ROLES,
  type CommandName,
  isExtensionCommandName,
  type Role,
  roleAtLeast,
} from '../../src/protocol/commands.js';
import { METER_STATES } from '../../src/protocol/index.js';
import type { GroupSummary } from '../store/group-directory.js';
import { describeSummary, type FanOutSummary } from './fan-out.js';

// PROTOCOL §5 and §7: what a group says in a chat window. Plain text, one line where it can be;
// the same words the meter agent uses for refusals and the hint, so an operator sees one voice.

export const GROUP_CHAT_HINT = "Unknown command. Send 'help' for the list.";

/** PROTOCOL §2: a refusal in chat is one line. */
export function refusalLine(condition: string, message: string): string {
  return `Refused (${condition}): ${message}`;
}

export function unknownGroupLine(group: string): string {
  return `No group '${group}' here: no meter is in it.`;
}

/** The answer sent at once, before any meter has answered. */
export function startedLine(command: string, members: number, jobId: number): string {
  return `running ${command} on ${members} meter${members === 1 ? '' : 's'}… (job ${jobId})`;
}

/** The one summary message: "48 of 50 ok; 2 timed out: mtr-0007, mtr-0031 (2.0 s) — job 17". */
export function summaryLine(summary: FanOutSummary, jobId: number): string {
  return `${describeSummary(summary)} — job ${jobId}`;
}

/** `status` on a group: "feeder-1: 50 meters — 48 available, 2 decoupled". */
export function describeGroupStatus(group: GroupSummary): string {
  const counts = METER_STATES.filter((state) => group.states[state] > 0).map(
    (state) => `${group.states[state]} ${state}`,
  );
  return `${group.name}: ${group.total} meter${group.total === 1 ? '' : 's'} — ${counts.join(', ')}`;
}

const GROUP_SYNTAX: Partial<Record<CommandName, string>> = {
  status: 'status — how many members are in each state (asks no meter)',
};

/** `help` on a group: the lines this role may send, each run on every member. */
export function groupHelp(group: string, role: Role): string {
  // The agent's own extensions (docs/protocol.md) are not fanned out to groups.
  const names = (Object.keys(COMMAND_ROLES) as CommandName[]).filter(
    (name) => !isExtensionCommandName(name),
  );
  const lines = names
    .filter((name) => roleAtLeast(role, COMMAND_ROLES[name]))
    .map((name) => GROUP_SYNTAX[name] ?? CHAT_SYNTAX[name]);
  return [
    `Commands for group ${group} (your role: ${role}); each runs on every member, one summary comes back:`,
    ...lines,
  ].join('\n');
}
