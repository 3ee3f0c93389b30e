import { CHAT_SYNTAX } from '../../src/protocol/chat-commands.js';
import { describeStatus, type MeterStatus } from '../../src/protocol/meter-status.js';
import type { Role } from '../config.js';
import type { CommandDefinition, CommandName } from './command.js';
import { commandNode } from './field-values.js';

// PROTOCOL §5 `help` and `status`: chat only (an ad-hoc client has disco and the status query).
// Both need the viewer role, like reading the status (PROTOCOL §2).

const NO_FORM = () => ({ title: '', instructions: '', fields: [] });
const CHAT_ONLY = ['chat'] as const;

export function createStatusCommand(deps: {
  currentStatus: () => MeterStatus;
}): CommandDefinition<Record<string, never>> {
  return {
    name: 'status',
    node: commandNode('status'),
    label: 'Status',
    role: 'viewer',
    doors: CHAT_ONLY,
    form: NO_FORM,
    parse: () => ({}),
    run() {
      const status = deps.currentStatus();
      return {
        title: 'Status',
        fields: [
          { var: 'state', type: 'text-single', label: 'State', value: status.state },
          { var: 'reason', type: 'text-single', label: 'Reason', value: status.reason?.code ?? '' },
          { var: 'seq', type: 'text-single', label: 'Sequence', value: String(status.seq) },
          { var: 'since', type: 'text-single', label: 'Since (UTC)', value: status.since },
        ],
        text: `${describeStatus(status)} (seq ${status.seq}, since ${status.since})`,
      };
    },
  };
}

export function createHelpCommand(deps: {
  /** The commands a sender of this role may run here (by chat). */
  commandsFor: (role: Role) => CommandName[];
}): CommandDefinition<Record<string, never>> {
  return {
    name: 'help',
    node: commandNode('help'),
    label: 'Help',
    role: 'viewer',
    doors: CHAT_ONLY,
    form: NO_FORM,
    parse: () => ({}),
    run(_args, ctx) {
      const lines = deps.commandsFor(ctx.role).map((name) => CHAT_SYNTAX[name]);
      return {
        title: 'Help',
        fields: [{ var: 'commands', type: 'text-multi', label: 'Commands', value: lines }],
        text: [`Commands for your role (${ctx.role}):`, ...lines].join('\n'),
      };
    },
  };
}
