import type { Logger } from '../../src/log.js';
import { bareJid } from '../../src/protocol/meter-id.js';
import type { Role } from '../config.js';
import { isMeterControlError, type MeterControlErrorCode } from '../meter/errors.js';
import type { ModeController } from '../presence/mode-controller.js';
import { type Acl, roleRank } from '../security/acl.js';
import type { AuditEntry, AuditOutcome, AuditSink } from '../security/audit-entry.js';
import type { RateLimiter } from '../security/rate-limiter.js';
import {
  type CommandDefinition,
  type CommandDoor,
  CommandError,
  type CommandErrorCondition,
  type CommandResult,
  type RawArgs,
} from './command.js';
import { clip } from './field-values.js';

// PROTOCOL §2 and §4: every request, from either door, passes here, in this order:
//   1. the sender's rate limit (everyone, so a stranger cannot make us work or audit unboundedly)
//   2. the ACL: outside it → forbidden
//   3. a refusal the front door already decided (malformed, oversized, unknown session)
//   4. the command exists behind this door → else item-not-found
//   5. the sender's role is high enough → else forbidden
//   6. the meter has the control → else feature-not-implemented
//   7. parse → bad-request naming the field; 8. run (→ driver errors mapped below)
// and every outcome is audited, refusals included. Two exceptions keep the trail useful under a
// flood: a run of rate-limit refusals is audited once, and its length when it ends.
// A token is one command: asking for a form (or cancelling) is free when granted, so a two-step
// ad-hoc command costs what a one-shot one does.

/** A command the meter is carrying out makes it `active`/`command` (PROTOCOL §1). */
export const COMMAND_ACTIVITY = { code: 'command', text: 'command in progress' } as const;

export interface CommandRequest {
  /** Full JID of the sender. */
  from: string;
  via: CommandDoor;
  /** The command as asked: a node's name or a chat keyword; unknown names are audited as is. */
  name: string;
  raw: RawArgs;
  /**
   * `form`: the sender asks for the form (checked, not audited when granted); `cancel`: the
   * sender ends a session (likewise); `run`: carry it out.
   */
  stage: 'form' | 'cancel' | 'run';
  /** Set by a front door that already found the request unacceptable. */
  refusal?: CommandError;
}

export type DispatchOutcome =
  | { ok: true; command: CommandDefinition; role: Role; result: CommandResult | undefined }
  | {
      ok: false;
      error: CommandError;
      /** A further refusal in a run of rate-limit refusals: not audited; chat stays silent. */
      repeated: boolean;
    };

export interface Dispatcher {
  dispatch(request: CommandRequest): Promise<DispatchOutcome>;
  /** The commands this sender may run through this door (disco#items, help). */
  availableTo(jid: string, via: CommandDoor): CommandDefinition[];
}

/** Commands that a role may run through a door, on this meter, in catalogue order. */
export function commandsFor(
  commands: readonly CommandDefinition[],
  role: Role,
  via: CommandDoor,
): CommandDefinition[] {
  return commands.filter(
    (c) => offeredVia(c, via) && c.supported !== false && roleRank(role) >= roleRank(c.role),
  );
}

const offeredVia = (command: CommandDefinition, via: CommandDoor) =>
  (command.doors ?? ['adhoc', 'chat']).includes(via);

/** STYLE §5: driver failures have stable codes; here they become protocol conditions. */
const METER_CONTROL_CONDITIONS: Record<MeterControlErrorCode, CommandErrorCondition> = {
  'relay-lockout': 'not-allowed',
  'not-supported': 'feature-not-implemented',
};

export function createDispatcher(deps: {
  commands: readonly CommandDefinition[];
  acl: Acl;
  rateLimiter: RateLimiter;
  modes: Pick<ModeController, 'modes' | 'setActivity'>;
  audit: AuditSink;
  logger: Logger;
  now: () => Date;
  /**
   * Senders the rate limit does not apply to: the presence service, which fans group commands
   * out to thousands of meters and bounds that load itself (job cap, concurrency, timeouts).
   */
  rateExempt?: (bareJid: string) => boolean;
}): Dispatcher {
  const { commands, acl, rateLimiter, modes, audit, logger, now } = deps;
  const exempt = deps.rateExempt ?? (() => false);
  const byName = new Map(commands.map((c) => [c.name as string, c]));
  let markedRuns = 0;

  const record = (
    request: CommandRequest,
    outcome: AuditOutcome,
    detail: string,
    condition?: string,
  ) => {
    const entry: AuditEntry = {
      ts: now().toISOString(),
      from: request.from,
      via: request.via,
      command: clip(request.name, 64),
      args: boundedArgs(request.raw),
      outcome,
      detail: clip(detail, 300),
    };
    if (condition) entry.condition = condition;
    try {
      audit.record(entry);
    } catch (error) {
      // The sink promises not to throw; a command's answer must not depend on it anyway.
      logger.error({ err: (error as Error).message }, 'audit sink failed');
    }
  };

  const refuse = (
    request: CommandRequest,
    error: CommandError,
    uncharged = false,
  ): DispatchOutcome => {
    // A refused form or cancel request costs its token after all (it made an audit entry).
    if (uncharged && !exempt(bareJid(request.from))) rateLimiter.take(bareJid(request.from));
    const outcome: AuditOutcome =
      error.condition === 'internal-server-error' ? 'failed' : 'refused';
    record(request, outcome, error.message, error.condition);
    const log = { from: request.from, command: request.name, condition: error.condition };
    if (outcome === 'failed') logger.error(log, error.message);
    else logger.warn(log, `command refused: ${error.message}`);
    return { ok: false, error, repeated: false };
  };

  // While a command that operates the meter runs, the meter is `active`/`command`. The mark is
  // ours only if no other activity (e.g. a DR event) was already shown; we never clear others'.
  const runMarked = async (marks: boolean, run: () => Promise<CommandResult>) => {
    if (!marks) return run();
    markedRuns += 1;
    if (markedRuns === 1 && modes.modes.activity === null) {
      modes.setActivity({ ...COMMAND_ACTIVITY });
    }
    try {
      return await run();
    } finally {
      markedRuns -= 1;
      if (markedRuns === 0 && modes.modes.activity?.code === COMMAND_ACTIVITY.code) {
        modes.setActivity(null);
      }
    }
  };

  const dispatch = async (request: CommandRequest): Promise<DispatchOutcome> => {
    // 1. rate limit, per bare JID. A granted form or cancel costs nothing: a two-step command
    // is one command.
    const sender = bareJid(request.from);
    const uncharged = exempt(sender) || (request.stage !== 'run' && rateLimiter.peek(sender));
    const rate = uncharged
      ? { allowed: true as const, refusedBefore: 0 }
      : rateLimiter.take(sender);
    if (!rate.allowed) {
      const retryS = Math.ceil(rate.retryAfterMs / 1000);
      const error = new CommandError(
        'resource-constraint',
        `too many commands; try again in ${retryS} s`,
      );
      if (rate.refusedInRow > 1) return { ok: false, error, repeated: true };
      return refuse(request, error);
    }
    if (rate.refusedBefore > 1) {
      record(
        { ...request, name: 'rate-limited', raw: {} },
        'refused',
        `${rate.refusedBefore - 1} further request(s) refused by the rate limit before this one`,
        'resource-constraint',
      );
    }

    // 2. the ACL
    const role = acl.roleOf(request.from);
    if (role === null) {
      return refuse(
        request,
        new CommandError('forbidden', 'not authorised to command this meter'),
        uncharged,
      );
    }
    // 3. the door's own refusal
    if (request.refusal) return refuse(request, request.refusal, uncharged);
    // 4.–6. the command, the role, the meter
    const command = byName.get(request.name);
    if (!command || !offeredVia(command, request.via)) {
      return refuse(
        request,
        new CommandError('item-not-found', `no command '${clip(request.name)}' here`),
        uncharged,
      );
    }
    if (roleRank(role) < roleRank(command.role)) {
      return refuse(
        request,
        new CommandError('forbidden', `${command.name} needs the ${command.role} role`),
        uncharged,
      );
    }
    if (command.supported === false) {
      return refuse(
        request,
        new CommandError(
          'feature-not-implemented',
          `this meter has no ${command.label.toLowerCase()}`,
        ),
        uncharged,
      );
    }
    if (request.stage !== 'run') return { ok: true, command, role, result: undefined };

    // 7.–8. parse and run
    try {
      const args = command.parse(request.raw);
      const ctx = { from: request.from, role, via: request.via, now: now() };
      const marks = command.marksActive === true && (command.changesMeter?.(args) ?? true);
      const result = await runMarked(marks, async () => command.run(args, ctx));
      record(request, 'ok', firstLine(result.text));
      logger.info({ from: request.from, command: command.name, via: request.via }, 'command done');
      return { ok: true, command, role, result };
    } catch (error) {
      return refuse(request, toCommandError(error));
    }
  };

  return {
    dispatch,
    availableTo(jid, via) {
      const role = acl.roleOf(jid);
      return role === null ? [] : commandsFor(commands, role, via);
    },
  };
}

export function toCommandError(error: unknown): CommandError {
  if (error instanceof CommandError) return error;
  if (isMeterControlError(error)) {
    return new CommandError(METER_CONTROL_CONDITIONS[error.code], error.message);
  }
  return new CommandError(
    'internal-server-error',
    `the command failed: ${error instanceof Error ? error.message : String(error)}`,
  );
}

function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline === -1 ? text : `${text.slice(0, newline)} …`;
}

/** The arguments as received, bounded so that one request cannot bloat the trail. */
function boundedArgs(raw: RawArgs): RawArgs {
  const out: RawArgs = {};
  for (const [name, values] of Object.entries(raw).slice(0, 32)) {
    out[clip(name, 64)] = values.slice(0, 32).map((v) => clip(v, 256));
  }
  return out;
}
