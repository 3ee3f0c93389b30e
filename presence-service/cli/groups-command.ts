import { ERROR_CODES, EXIT, GridpresenceError } from '../../src/errors.js';
import { isMeterId, METER_STATES } from '../../src/protocol/index.js';
import { unknownGroup } from '../groups/group-commands.js';
import { meterView } from '../http/meter-view.js';
import type { GroupDirectory } from '../store/group-directory.js';
import type { MeterRegistry, MeterWithState } from '../store/meter-registry.js';
import { parseSubcommand, runSubcommands, UsageError } from './subcommands.js';
import { table } from './table.js';

// `presence-service groups …`: PROTOCOL §7 group memberships, edited in the registry from the
// shell. A group exists through its members: adding the first meter creates it, removing the
// last one ends it. A running service sees the change at its next group command. Output meant
// for programs goes to `out` (stdout), everything for the person to `err`.

export interface GroupsCommandDeps {
  registry: MeterRegistry;
  directory: GroupDirectory;
  out: (line: string) => void;
  err: (line: string) => void;
}

const PROGRAM = 'presence-service groups';

const HELP: Record<string, string> = {
  groups: `Usage: ${PROGRAM} <list|show|add|remove> [options]

Edits group memberships (PROTOCOL §7). A group is addressed as <group>@presence.<domain>; a
chat message or HTTP command sent to it runs on every member.

Commands:
  list                 the groups, with member counts per state
  show <group>         the members of a group with their state
  add <group> <meter…>     put meters in a group (creates it)
  remove <group> <meter…>  take meters out of a group (the last one ends it)

'${PROGRAM} <command> --help' describes each command.
Exit codes: 0 ok, 1 failure (e.g. an unknown meter or group), 2 bad input.`,
  list: `Usage: ${PROGRAM} list [--json]

  --json               {"groups":[{name,total,states}]} as GET /api/groups shows it`,
  show: `Usage: ${PROGRAM} show <group> [--json]

  --json               the group and its members as GET /api/groups/:group shows them`,
  add: `Usage: ${PROGRAM} add <group> <meter…>

Puts the meters in the group; a meter already in it is left as it is. Every meter must be
registered ('presence-service meters list'); if one is not, nothing changes.`,
  remove: `Usage: ${PROGRAM} remove <group> <meter…>

Takes the meters out of the group; a meter that was not in it is named and skipped.`,
};

type Handler = (args: string[], deps: GroupsCommandDeps) => number;
const COMMANDS: Record<string, Handler> = { list, show, add, remove };

export function runGroupsCommand(argv: string[], deps: GroupsCommandDeps): Promise<number> {
  return runSubcommands(
    { program: PROGRAM, topic: 'groups', help: HELP, commands: COMMANDS },
    argv,
    deps,
  );
}

function list(args: string[], deps: GroupsCommandDeps): number {
  const { values, positionals } = parseSubcommand('list', args, { json: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError('list', `unexpected '${positionals[0]}'`);
  const groups = deps.directory.list();
  if (values.json) {
    deps.out(JSON.stringify({ groups }, null, 2));
    return EXIT.OK;
  }
  const rows = groups.map((g) => [
    g.name,
    String(g.total),
    ...METER_STATES.map((s) => String(g.states[s])),
  ]);
  const header = ['GROUP', 'MEMBERS', ...METER_STATES.map((s) => s.toUpperCase())];
  for (const line of table(header, rows)) deps.out(line);
  deps.err(`${groups.length} group(s)`);
  return EXIT.OK;
}

function show(args: string[], deps: GroupsCommandDeps): number {
  const { values, positionals } = parseSubcommand('show', args, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('show', 'show needs one group name');
  const group = groupName('show', positionals[0] as string);
  const summary = deps.directory.get(group);
  if (!summary) throw unknownGroup(group);
  const members: MeterWithState[] = [];
  const page = 1000;
  for (let offset = 0; ; offset += page) {
    const result = deps.registry.list({ group, limit: page, offset });
    members.push(...result.meters);
    if (members.length >= result.total || result.meters.length === 0) break;
  }
  const views = members.map(meterView);
  if (values.json) {
    deps.out(JSON.stringify({ ...summary, members: views }, null, 2));
    return EXIT.OK;
  }
  const rows = views.map((m) => [m.id, m.state, m.reason?.code ?? '', m.lastSeenAt ?? 'never']);
  for (const line of table(['ID', 'STATE', 'REASON', 'LAST SEEN'], rows)) deps.out(line);
  deps.err(`${views.length} member(s) in ${group}`);
  return EXIT.OK;
}

function add(args: string[], deps: GroupsCommandDeps): number {
  const { group, meters } = membership('add', args, deps);
  let added = 0;
  for (const meter of meters) {
    if (meter.groups.includes(group)) continue;
    deps.registry.setGroups(meter.id, [...meter.groups, group]);
    added += 1;
  }
  deps.err(`added ${added} meter(s) to ${group}; it has ${deps.directory.members(group).length}`);
  return EXIT.OK;
}

function remove(args: string[], deps: GroupsCommandDeps): number {
  const { group, meters } = membership('remove', args, deps);
  let removed = 0;
  for (const meter of meters) {
    if (!meter.groups.includes(group)) {
      deps.err(`${meter.id} was not in ${group}`);
      continue;
    }
    deps.registry.setGroups(
      meter.id,
      meter.groups.filter((g) => g !== group),
    );
    removed += 1;
  }
  deps.err(
    `removed ${removed} meter(s) from ${group}; it has ${deps.directory.members(group).length}`,
  );
  return EXIT.OK;
}

/** `<group> <meter…>`, every meter checked before anything changes. */
function membership(command: string, args: string[], deps: GroupsCommandDeps) {
  const { positionals } = parseSubcommand(command, args, {});
  if (positionals.length < 2) {
    throw new UsageError(command, `${command} needs a group name and at least one meter id`);
  }
  const [name, ...ids] = positionals as [string, ...string[]];
  const group = groupName(command, name);
  const meters = [...new Set(ids)].map((id) => {
    const meter = deps.registry.get(id);
    if (!meter) {
      throw new GridpresenceError(ERROR_CODES.METER_UNKNOWN, `meter '${id}' is not registered`, {
        hint: 'nothing was changed; see presence-service meters list',
      });
    }
    return meter;
  });
  return { group, meters };
}

function groupName(command: string, name: string): string {
  if (!isMeterId(name)) {
    throw new UsageError(
      command,
      `group '${name}': group names are lower-case letters, digits and "-", 1-63 characters`,
    );
  }
  return name;
}
