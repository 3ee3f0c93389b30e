import type { LogLevelControl } from '../../src/log-level.js';
import type { MeterStatus } from '../../src/protocol/meter-status.js';
import type { MeterModel } from '../meter/model.js';
import type { ModeController } from '../presence/mode-controller.js';
import type { ReportingControl } from '../telemetry/start-telemetry.js';
import { createHelpCommand, createStatusCommand } from './chat-only-commands.js';
import type { CommandDefinition } from './command.js';
import { commandsFor } from './dispatcher.js';
import { createLoadLimitCommand } from './load-limit-command.js';
import { createLogLevelCommand } from './log-level-command.js';
import { createMaintenanceCommand } from './maintenance-command.js';
import { createPqCommand } from './pq-command.js';
import { createReadCommand } from './read-command.js';
import type { RecentEvents } from './recent-events.js';
import { createRelayCommand } from './relay-command.js';
import { createReportingCommand } from './reporting-command.js';

// Every command of this agent, in the order disco#items and `help` list them: the six of
// PROTOCOL §4, the chat-only `help` and `status` of §5, and our extension `log-level`
// (docs/protocol.md).

export function createCommandCatalogue(deps: {
  meter: MeterModel;
  modes: ModeController;
  reporting: ReportingControl;
  recentEvents: RecentEvents;
  currentStatus: () => MeterStatus;
  logLevel: LogLevelControl;
}): CommandDefinition[] {
  const { meter, modes, reporting, recentEvents } = deps;
  // `help` lists the catalogue it is part of, so the array is filled after it is created.
  const commands: CommandDefinition[] = [];
  commands.push(
    createHelpCommand({
      commandsFor: (role) => commandsFor(commands, role, 'chat').map((c) => c.name),
    }),
    createStatusCommand({ currentStatus: deps.currentStatus }),
    createReadCommand({ meter }),
    createPqCommand({ meter, recentEvents }),
    createRelayCommand({ meter }),
    createLoadLimitCommand({ meter, modes }),
    createMaintenanceCommand({ modes }),
    createReportingCommand({ reporting }),
    createLogLevelCommand({ logLevel: deps.logLevel }),
  );
  return commands;
}
