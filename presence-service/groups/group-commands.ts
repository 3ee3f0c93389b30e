import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import {
  type AdhocCommandName,
  COMMAND_ROLES,
  type CommandName,
  commandNode,
  type RawArgs,
  type Role,
  roleAtLeast,
} from '../../src/protocol/commands.js';
import type { CommandRunner } from '../commands/command-client.js';
import type { GroupDirectory } from '../store/group-directory.js';
import type { JobDoor, JobStore } from '../store/job-store.js';
import { type FanOutSummary, fanOut } from './fan-out.js';

// PROTOCOL §7: one command, every member of a group. Only the §4 command nodes are fanned out;
// the service asks each meter as itself (an operator to the meters), which is why every door
// must check the sender's role first (mayRun). Each member's outcome is stored the moment it
// arrives, the summary when the last one is in. Running jobs are bounded (STYLE §9).

export interface GroupJob {
  jobId: number;
  /** The meters the command was sent to, sorted. */
  members: string[];
  /** Resolves with the summary once every member has answered or timed out; never rejects. */
  done: Promise<FanOutSummary>;
}

export interface GroupCommands {
  /** Throws GP_GROUP_UNKNOWN (no member) or GP_GROUP_BUSY (too many jobs running). */
  start(
    group: string,
    command: AdhocCommandName,
    form: RawArgs,
    requestedBy: string,
    via: JobDoor,
  ): GroupJob;
  /** Jobs running now. */
  running(): number;
  /** No new jobs; running ones stop asking and are recorded as interrupted. */
  stop(): void;
}

export const GROUP_DEFAULTS = { concurrency: 64, timeoutMs: 10_000, maxRunningJobs: 8 } as const;

/** A door's refusal before anything runs: the sender's role is too low, or it has none. */
export interface RoleRefusal {
  condition: 'forbidden';
  message: string;
}

/** PROTOCOL §2: the same roles on a group as on each of its meters. */
export function mayRun(role: Role | null, command: CommandName): RoleRefusal | null {
  if (role === null) {
    return { condition: 'forbidden', message: 'not authorised to command groups here' };
  }
  const needed = COMMAND_ROLES[command];
  return roleAtLeast(role, needed)
    ? null
    : { condition: 'forbidden', message: `${command} needs the ${needed} role` };
}

export function unknownGroup(group: string): GridpresenceError {
  return new GridpresenceError(
    ERROR_CODES.GROUP_UNKNOWN,
    `no group '${group}': no meter is in it`,
    {
      hint: `'presence-service groups list' shows the groups; 'groups add ${group} <meter…>' fills one`,
    },
  );
}

export function createGroupCommands(deps: {
  groups: Pick<GroupDirectory, 'members'>;
  jobs: JobStore;
  run: CommandRunner;
  concurrency?: number;
  timeoutMs?: number;
  maxRunningJobs?: number;
  logger: Logger;
  now?: () => Date;
}): GroupCommands {
  const { groups, jobs, run, logger } = deps;
  const concurrency = deps.concurrency ?? GROUP_DEFAULTS.concurrency;
  const timeoutMs = deps.timeoutMs ?? GROUP_DEFAULTS.timeoutMs;
  const maxRunningJobs = deps.maxRunningJobs ?? GROUP_DEFAULTS.maxRunningJobs;
  const now = deps.now ?? (() => new Date());
  let running = 0;
  const runningBy = new Map<string, number>();
  let stopped = false;

  /** A store failure is logged, never thrown into a fan-out (the meters already acted). */
  const store = (what: string, write: () => void) => {
    if (stopped) return;
    try {
      write();
    } catch (error) {
      logger.error({ err: (error as Error).message }, `storing the ${what} failed`);
    }
  };

  return {
    start(group, command, form, requestedBy, via) {
      if (stopped) {
        throw new GridpresenceError(ERROR_CODES.GROUP_BUSY, 'the service is stopping');
      }
      const members = groups.members(group);
      if (members.length === 0) throw unknownGroup(group);
      // One job at a time per requester, so one sender cannot fill every slot (an operator's
      // `relay close` must not find the service busy with a viewer's loop of reads).
      const requester = requestedBy.split('/')[0] ?? requestedBy;
      if ((runningBy.get(requester) ?? 0) >= 1) {
        throw new GridpresenceError(
          ERROR_CODES.GROUP_BUSY,
          'your previous group command is still running; send this one when it has finished',
        );
      }
      if (running >= maxRunningJobs) {
        throw new GridpresenceError(
          ERROR_CODES.GROUP_BUSY,
          `${running} group commands are running; send it again when one has finished`,
        );
      }
      const jobId = jobs.create({
        group,
        command,
        args: form,
        requestedBy,
        via,
        members,
        createdAt: now().toISOString(),
      });
      running += 1;
      runningBy.set(requester, (runningBy.get(requester) ?? 0) + 1);
      const log = logger.child({ jobId, group, command });
      log.info({ members: members.length, requestedBy, via }, 'group command started');
      const done = fanOut({
        members,
        node: commandNode(command),
        form,
        run,
        concurrency,
        timeoutMs,
        onResult: (result) =>
          store('result', () => jobs.recordResult(jobId, result, now().toISOString())),
        cancelled: () => stopped,
      })
        .then(({ summary }) => {
          store('summary', () => jobs.finish(jobId, summary, now().toISOString()));
          const { ok, failed, timedOut, offline, durationMs } = summary;
          log.info({ ok, failed, timedOut, offline, durationMs }, 'group command done');
          return summary;
        })
        .finally(() => {
          running -= 1;
          const left = (runningBy.get(requester) ?? 1) - 1;
          if (left > 0) runningBy.set(requester, left);
          else runningBy.delete(requester);
        });
      return { jobId, members, done };
    },

    running: () => running,

    stop() {
      if (stopped) return;
      store('interruption', () => jobs.interruptRunning(now().toISOString()));
      stopped = true;
    },
  };
}
