import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGroupsCommand } from '../../presence-service/cli/groups-command.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import {
  createGroupDirectory,
  type GroupDirectory,
} from '../../presence-service/store/group-directory.js';
import {
  createMeterRegistry,
  type MeterRegistry,
} from '../../presence-service/store/meter-registry.js';

// `presence-service groups list|show|add|remove`: memberships edited in the registry.

describe('presence-service groups', () => {
  let db: Database;
  let registry: MeterRegistry;
  let directory: GroupDirectory;
  let out: string[];
  let err: string[];

  beforeEach(() => {
    db = openDatabase(':memory:');
    registry = createMeterRegistry({ db });
    directory = createGroupDirectory({ db });
    registry.addMany([
      { id: 'm-1', domain: 'grid.example', groups: ['feeder-1', 'wave-1'] },
      { id: 'm-2', domain: 'grid.example', groups: ['feeder-1'] },
      { id: 'm-3', domain: 'grid.example' },
    ]);
    out = [];
    err = [];
  });
  afterEach(() => db.close());

  const run = (...argv: string[]) =>
    runGroupsCommand(argv, {
      registry,
      directory,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    });

  it('lists the groups with their members per state', async () => {
    expect(await run('list')).toBe(0);
    expect(out).toEqual([
      'GROUP     MEMBERS  AVAILABLE  ACTIVE  RESTRICTED  UNAVAILABLE  DECOUPLED',
      'feeder-1  2        0          0       0           0            2',
      'wave-1    1        0          0       0           0            1',
    ]);
    out = [];
    expect(await run('list', '--json')).toBe(0);
    expect(JSON.parse(out.join('\n')).groups.map((g: { name: string }) => g.name)).toEqual([
      'feeder-1',
      'wave-1',
    ]);
  });

  it('shows a group’s members, and names an unknown group', async () => {
    expect(await run('show', 'feeder-1')).toBe(0);
    expect(out[0]).toMatch(/^ID\s+STATE\s+REASON\s+LAST SEEN$/);
    expect(out.slice(1).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([
      ['m-1', 'decoupled'],
      ['m-2', 'decoupled'],
    ]);
    expect(await run('show', 'feeder-9')).toBe(1);
    expect(err.at(-2)).toBe("presence-service groups: no group 'feeder-9': no meter is in it");
  });

  it('adds meters to a group, keeping their other groups', async () => {
    expect(await run('add', 'feeder-2', 'm-2', 'm-3')).toBe(0);
    expect(err).toEqual(['added 2 meter(s) to feeder-2; it has 2']);
    expect(registry.get('m-2')?.groups).toEqual(['feeder-1', 'feeder-2']);
    expect(registry.get('m-3')?.groups).toEqual(['feeder-2']);
    // again: nothing to do
    expect(await run('add', 'feeder-2', 'm-2')).toBe(0);
    expect(err.at(-1)).toBe('added 0 meter(s) to feeder-2; it has 2');
  });

  it('changes nothing when one of the meters is not registered', async () => {
    expect(await run('add', 'feeder-2', 'm-3', 'm-404')).toBe(1);
    expect(err[0]).toBe("presence-service groups: meter 'm-404' is not registered");
    expect(directory.members('feeder-2')).toEqual([]);
  });

  it('removes meters from a group; removing the last one ends it', async () => {
    expect(await run('remove', 'wave-1', 'm-1', 'm-2')).toBe(0);
    expect(err).toEqual(['m-2 was not in wave-1', 'removed 1 meter(s) from wave-1; it has 0']);
    expect(registry.get('m-1')?.groups).toEqual(['feeder-1']);
    expect(directory.get('wave-1')).toBeUndefined();
  });

  it('refuses bad usage with exit code 2', async () => {
    expect(await run('add', 'feeder-2')).toBe(2);
    expect(err[0]).toBe(
      'presence-service groups: add needs a group name and at least one meter id',
    );
    expect(await run('add', 'Feeder 2', 'm-1')).toBe(2);
    expect(await run('frobnicate')).toBe(2);
    expect(await run('--help')).toBe(0);
    expect(out.join('\n')).toContain('add <group> <meter…>');
  });
});
