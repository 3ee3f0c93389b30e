import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  CommandOutcome,
  CommandRunner,
} from '../../presence-service/commands/command-client.js';
import {
  createGroupCommands,
  type GroupCommands,
} from '../../presence-service/groups/group-commands.js';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createGroupDirectory } from '../../presence-service/store/group-directory.js';
import { createJobStore } from '../../presence-service/store/job-store.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';
import type { Role } from '../../src/protocol/commands.js';
import { createTestAuth } from './helpers/auth-fixture.js';

// PROTOCOL §7 over HTTP, by injection (STYLE §7): groups with their states, a group command
// accepted as a job (202), the job's per-meter results, and the errors.

const DOMAIN = 'grid.example';

describe('groups API', () => {
  let db: Database;
  let app: FastifyInstance;
  let commands: GroupCommands;
  let role: Role | null;
  let operator: { authorization: string };
  const asked: Array<{ meterId: string; node: string; form: unknown }> = [];

  const run: CommandRunner = async (meterId, node, form): Promise<CommandOutcome> => {
    asked.push({ meterId, node, form });
    if (meterId === 'm-2') return { kind: 'error', condition: 'not-allowed', text: 'lockout' };
    return { kind: 'ok', fields: { relay: ['open'] }, note: 'Relay open.' };
  };

  beforeEach(async () => {
    asked.length = 0;
    role = 'operator';
    db = openDatabase(':memory:');
    const registry = createMeterRegistry({ db });
    const store = createPresenceStore({ db });
    const directory = createGroupDirectory({ db });
    const jobs = createJobStore({ db });
    commands = createGroupCommands({ groups: directory, jobs, run, logger: silentLogger() });
    const { auth, as } = createTestAuth(db);
    operator = as('operator');
    app = buildHttpApi({
      auth,
      registry,
      store,
      groups: { directory, commands, jobs, roleOf: () => role },
      bus: createChangeBus(),
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
    });
    await app.ready();
    registry.addMany([
      { id: 'm-1', domain: DOMAIN, groups: ['feeder-1'] },
      { id: 'm-2', domain: DOMAIN, groups: ['feeder-1', 'feeder-2'] },
      { id: 'm-3', domain: DOMAIN },
    ]);
    store.record({
      meterId: 'm-1',
      prevState: null,
      state: 'available',
      reasonCode: null,
      reasonText: null,
      seq: 1,
      since: '2026-11-27T14:00:00Z',
      kind: 'revenue-meter',
      receivedAt: '2026-11-27T14:00:00.000Z',
      source: 'push',
      gap: 0,
    });
  });

  afterEach(async () => {
    commands.stop();
    await app.close();
    db.close();
  });

  const get = (url: string) => app.inject({ method: 'GET', url, headers: operator });
  const post = (group: string, payload: object) =>
    app.inject({
      method: 'POST',
      url: `/api/groups/${group}/commands`,
      payload,
      headers: operator,
    });

  it('lists the groups with their members per state', async () => {
    const res = await get('/api/groups');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      groups: [
        {
          name: 'feeder-1',
          total: 2,
          states: { available: 1, active: 0, restricted: 0, unavailable: 0, decoupled: 1 },
        },
        {
          name: 'feeder-2',
          total: 1,
          states: { available: 0, active: 0, restricted: 0, unavailable: 0, decoupled: 1 },
        },
      ],
    });
  });

  it('shows one group with its members and their state', async () => {
    const res = await get('/api/groups/feeder-1');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ name: 'feeder-1', total: 2 });
    expect(body.members.map((m: { id: string; state: string }) => [m.id, m.state])).toEqual([
      ['m-1', 'available'],
      ['m-2', 'decoupled'],
    ]);
    const unknown = await get('/api/groups/feeder-9');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({
      error: { code: 'group-unknown', message: "no group 'feeder-9': no meter is in it" },
    });
  });

  it('accepts a group command as a job (202) whose per-meter results are queryable', async () => {
    const res = await post('feeder-1', {
      command: 'relay',
      args: { action: ['open'], confirm: ['true'] },
    });
    expect(res.statusCode).toBe(202);
    const { jobId, members } = res.json();
    expect(members).toBe(2);
    expect(res.headers.location).toBe(`/api/jobs/${jobId}`);
    expect(asked.map((a) => [a.meterId, a.node, a.form])).toEqual([
      ['m-1', 'urn:gridpresence:cmd:relay', { action: ['open'], confirm: ['true'] }],
      ['m-2', 'urn:gridpresence:cmd:relay', { action: ['open'], confirm: ['true'] }],
    ]);
    await new Promise((resolve) => setImmediate(resolve));

    const job = (await get(`/api/jobs/${jobId}`)).json();
    expect(job).toMatchObject({
      id: jobId,
      group: 'feeder-1',
      command: 'relay',
      args: { action: ['open'], confirm: ['true'] },
      via: 'http',
      requestedBy: 'test-operator',
      members: 2,
      status: 'done',
      summary: { total: 2, ok: 1, failed: 1 },
      resultsTotal: 2,
    });
    expect(
      job.results.map((r: { meterId: string; outcome: string }) => [r.meterId, r.outcome]),
    ).toEqual([
      ['m-1', 'ok'],
      ['m-2', 'error'],
    ]);
    const failed = (await get(`/api/jobs/${jobId}?outcome=error`)).json();
    expect(failed.results).toEqual([
      expect.objectContaining({ meterId: 'm-2', condition: 'not-allowed', detail: 'lockout' }),
    ]);
  });

  it('defaults args to an empty form, and takes a single value without its array', async () => {
    expect((await post('feeder-2', { command: 'read' })).statusCode).toBe(202);
    expect(
      (await post('feeder-2', { command: 'reporting', args: { 'interval-s': 60 } })).statusCode,
    ).toBe(202);
    expect(asked.map((a) => a.form)).toEqual([{}, { 'interval-s': ['60'] }]);
  });

  it('refuses unknown commands, chat-only lines and malformed args with 400', async () => {
    const bad = await post('feeder-1', { command: 'self-destruct' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toBe(
      "body parameter 'command' must be one of: read, pq, relay, load-limit, maintenance, reporting",
    );
    expect((await post('feeder-1', { command: 'status' })).statusCode).toBe(400);
    const nested = await post('feeder-1', { command: 'read', args: { registers: { a: 1 } } });
    expect(nested.statusCode).toBe(400);
    expect((await post('feeder-1', {})).statusCode).toBe(400);
    expect(asked).toEqual([]);
  });

  it('answers 404 for a group with no members, 404 for an unknown job', async () => {
    const res = await post('feeder-9', { command: 'read' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('group-unknown');
    const job = await get('/api/jobs/99');
    expect(job.statusCode).toBe(404);
    expect(job.json().error.code).toBe('job-unknown');
  });

  it('refuses a command above the caller’s role with 403, and a caller with no role', async () => {
    role = 'viewer';
    const relay = await post('feeder-1', {
      command: 'relay',
      args: { action: ['open'], confirm: ['true'] },
    });
    expect(relay.statusCode).toBe(403);
    expect(relay.json()).toEqual({
      error: { code: 'forbidden', message: 'relay needs the operator role' },
    });
    expect((await post('feeder-1', { command: 'read' })).statusCode).toBe(202);
    role = null;
    expect((await post('feeder-1', { command: 'read' })).statusCode).toBe(403);
    expect(asked.map((a) => a.node)).toEqual([
      'urn:gridpresence:cmd:read',
      'urn:gridpresence:cmd:read',
    ]);
  });
});
