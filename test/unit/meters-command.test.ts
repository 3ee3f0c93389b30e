import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCsv } from '../../presence-service/cli/csv.js';
import { runMetersCommand } from '../../presence-service/cli/meters-command.js';
import { serviceConfigSchema } from '../../presence-service/config.js';
import type { AccountProvisioner } from '../../presence-service/provisioning/account-provisioner.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import {
  createMeterRegistry,
  type MeterRegistry,
} from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';

/** Records every call; fails when told to. */
function fakeProvisioner() {
  const calls: Array<
    | { op: 'create'; accounts: Array<{ username: string; password: string }> }
    | { op: 'delete'; username: string }
  > = [];
  const control = { failCreateAfter: Number.POSITIVE_INFINITY, failDelete: false };
  const provisioner: AccountProvisioner = {
    async createAccounts(accounts) {
      if (calls.filter((c) => c.op === 'create').length >= control.failCreateAfter) {
        throw new Error('prosodyctl: connection refused');
      }
      calls.push({ op: 'create', accounts: [...accounts] });
    },
    async deleteAccount(username) {
      if (control.failDelete) throw new Error('prosodyctl: timed out');
      calls.push({ op: 'delete', username });
    },
  };
  return { provisioner, calls, control };
}

describe('presence-service meters', () => {
  let db: Database;
  let registry: MeterRegistry;
  let fake: ReturnType<typeof fakeProvisioner>;
  let out: string[];
  let err: string[];
  let dir: string;
  const config = serviceConfigSchema.parse({
    domain: 'grid.example',
    component: { secret: 'a-long-secret' },
    provisioning: { kind: 'none' },
  });

  beforeEach(() => {
    db = openDatabase(':memory:');
    registry = createMeterRegistry({ db });
    fake = fakeProvisioner();
    out = [];
    err = [];
    dir = mkdtempSync(join(tmpdir(), 'gp-meters-'));
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (...argv: string[]) =>
    runMetersCommand(argv, {
      config,
      registry,
      provisioner: fake.provisioner,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    });
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  describe('help', () => {
    it('works without config, registry or provisioner', async () => {
      const noDeps = {
        out: (line: string) => out.push(line),
        err: (line: string) => err.push(line),
      };
      expect(await runMetersCommand(['--help'], noDeps as never)).toBe(0);
      expect(out.join('\n')).toContain('add <id>');
      expect(await runMetersCommand([], noDeps as never)).toBe(0);
      for (const command of ['add', 'remove', 'list', 'import']) {
        out = [];
        expect(await runMetersCommand([command, '--help'], noDeps as never)).toBe(0);
        expect(out.join('\n')).toContain(`meters ${command}`);
      }
      out = [];
      expect(await runMetersCommand(['help', 'import'], noDeps as never)).toBe(0);
      expect(out.join('\n')).toContain('--credentials-out');
    });

    it('rejects unknown commands and options with exit 2', async () => {
      expect(await run('frobnicate')).toBe(2);
      expect(err.join('\n')).toContain("unknown command 'frobnicate'");
      err = [];
      expect(await run('add', 'm-1', '--colour', 'red')).toBe(2);
      expect(err.join('\n')).toMatch(/--colour/);
      expect(err.join('\n')).toContain("see 'presence-service meters add --help'");
    });
  });

  describe('add', () => {
    it('creates the account, registers the meter and prints the password once', async () => {
      const code = await run(
        'add',
        'mtr-000123',
        '--kind',
        'revenue-meter',
        '--group',
        'feeder-12',
        '--group',
        'wave-1',
        '--email',
        'ops@grid.example',
      );
      expect(code).toBe(0);
      const printed = JSON.parse(out[0] ?? '');
      expect(printed).toEqual({
        id: 'mtr-000123',
        jid: 'mtr-000123@grid.example',
        password: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
      });
      expect(fake.calls).toEqual([
        { op: 'create', accounts: [{ username: 'mtr-000123', password: printed.password }] },
      ]);
      expect(registry.get('mtr-000123')).toMatchObject({
        kind: 'revenue-meter',
        email: 'ops@grid.example',
        groups: ['feeder-12', 'wave-1'],
      });
      // The service does not keep the password anywhere.
      const dump = JSON.stringify(db.prepare('SELECT * FROM meters').all());
      expect(dump).not.toContain(printed.password);
    });

    it('takes a password from the command line or a file', async () => {
      expect(await run('add', 'm-1', '--password', 'correct horse')).toBe(0);
      expect(JSON.parse(out[0] ?? '').password).toBe('correct horse');
      const secret = file('pw.txt', 'from-a-file-123\n');
      expect(await run('add', 'm-2', '--password-file', secret)).toBe(0);
      expect(JSON.parse(out[1] ?? '').password).toBe('from-a-file-123');
    });

    it.each([
      [['add'], /needs a meter id/],
      [['add', 'a', 'b'], /takes only a meter id/],
      [['add', 'Bad_Id'], /id: meter ids are lower-case/],
      [['add', 'm-1', '--kind', 'Revenue Meter'], /kind/],
      [['add', 'm-1', '--group', 'Feeder 1'], /groups\.0/],
      [['add', 'm-1', '--email', 'nope'], /email/],
      [['add', 'm-1', '--password', 'short'], /at least 8/],
      [['add', 'm-1', '--password', 'long-enough', '--password-file', 'x'], /not both/],
      [['add', 'm-1', '--password-file', '/does/not/exist'], /cannot read --password-file/],
    ])('exits 2 naming the problem: %j', async (argv, message) => {
      expect(await run(...argv)).toBe(2);
      expect(err.join('\n')).toMatch(message);
      expect(fake.calls).toEqual([]);
      expect(registry.count()).toBe(0);
    });

    it('refuses an existing meter without touching its account', async () => {
      await run('add', 'm-1');
      fake.calls.length = 0;
      expect(await run('add', 'm-1')).toBe(1);
      expect(err.join('\n')).toContain("meter 'm-1' already exists");
      expect(fake.calls).toEqual([]);
    });

    it('exits 1 and stores nothing when provisioning fails', async () => {
      fake.control.failCreateAfter = 0;
      expect(await run('add', 'm-1')).toBe(1);
      expect(err.join('\n')).toContain('connection refused');
      expect(out).toEqual([]);
      expect(registry.get('m-1')).toBeUndefined();
    });
  });

  describe('remove', () => {
    it('deletes the account and the registry row; history stays', async () => {
      await run('add', 'm-1');
      const store = createPresenceStore({ db });
      store.record({
        meterId: 'm-1',
        prevState: null,
        state: 'available',
        reasonCode: null,
        reasonText: null,
        seq: 1,
        since: null,
        kind: null,
        receivedAt: new Date().toISOString(),
        source: 'push',
        gap: 0,
      });
      expect(await run('remove', 'm-1')).toBe(0);
      expect(fake.calls.at(-1)).toEqual({ op: 'delete', username: 'm-1' });
      expect(registry.get('m-1')).toBeUndefined();
      expect(store.history('m-1', { limit: 10 })).toHaveLength(1);
    });

    it('exits 1 for an unknown meter', async () => {
      expect(await run('remove', 'm-404')).toBe(1);
      expect(err.join('\n')).toContain("meter 'm-404' is not registered");
      expect(fake.calls).toEqual([]);
    });

    it('keeps the meter when the account cannot be deleted', async () => {
      await run('add', 'm-1');
      fake.control.failDelete = true;
      expect(await run('remove', 'm-1')).toBe(1);
      expect(err.join('\n')).toContain('timed out');
      expect(registry.get('m-1')).toBeDefined();
    });
  });

  describe('list', () => {
    beforeEach(async () => {
      await run('add', 'm-1', '--group', 'feeder-1', '--kind', 'relay');
      await run('add', 'm-2');
      createPresenceStore({ db }).record({
        meterId: 'm-1',
        prevState: null,
        state: 'restricted',
        reasonCode: 'load-limit',
        reasonText: null,
        seq: 3,
        since: null,
        kind: null,
        receivedAt: '2026-11-27T14:00:00.000Z',
        source: 'push',
        gap: 0,
      });
      out = [];
      err = [];
    });

    it('prints a table', async () => {
      expect(await run('list')).toBe(0);
      expect(out[0]).toMatch(/^ID\s+STATE\s+REASON\s+KIND\s+GROUPS\s+LAST SEEN$/);
      expect(out[1]).toMatch(
        /^m-1\s+restricted\s+load-limit\s+relay\s+feeder-1\s+2026-11-27T14:00:00.000Z$/,
      );
      expect(out[2]).toMatch(/^m-2\s+decoupled\s+never$/);
    });

    it('prints JSON and filters', async () => {
      expect(await run('list', '--json', '--state', 'decoupled')).toBe(0);
      const body = JSON.parse(out.join('\n'));
      expect(body.total).toBe(1);
      expect(body.meters[0]).toMatchObject({ id: 'm-2', state: 'decoupled', reason: null });
      out = [];
      expect(await run('list', '--json', '--group', 'feeder-1')).toBe(0);
      expect(JSON.parse(out.join('\n')).meters.map((m: { id: string }) => m.id)).toEqual(['m-1']);
    });

    it('rejects an unknown state', async () => {
      expect(await run('list', '--state', 'asleep')).toBe(2);
      expect(err.join('\n')).toContain('--state must be one of available');
    });
  });

  describe('import', () => {
    it('imports thousands in chunks of 500, writing generated credentials 0600', async () => {
      const lines = ['id,password,kind,groups,email'];
      for (let i = 0; i < 1800; i++) {
        const id = `m-${String(i).padStart(5, '0')}`;
        const password = i % 2 === 0 ? `given-password-${i}` : '';
        lines.push(`${id},${password},revenue-meter,"feeder-${i % 7}; wave-1",`);
      }
      const csv = file('meters.csv', `${lines.join('\r\n')}\r\n`);
      const credentials = join(dir, 'credentials.csv');
      const started = performance.now();
      expect(await run('import', csv, '--credentials-out', credentials)).toBe(0);
      expect(performance.now() - started).toBeLessThan(5000);

      const creates = fake.calls.filter((c) => c.op === 'create');
      expect(creates.map((c) => (c.op === 'create' ? c.accounts.length : 0))).toEqual([
        500, 500, 500, 300,
      ]);
      expect(err).toEqual(
        expect.arrayContaining(['imported 500/1800', 'imported 1500/1800', 'imported 1800/1800']),
      );
      expect(JSON.parse(out.at(-1) ?? '')).toEqual({ imported: 1800, skipped: 0 });
      expect(registry.count()).toBe(1800);
      expect(registry.get('m-00003')).toMatchObject({
        kind: 'revenue-meter',
        groups: ['feeder-3', 'wave-1'],
        email: null,
      });

      expect(statSync(credentials).mode & 0o777).toBe(0o600);
      const written = parseCsv(readFileSync(credentials, 'utf8')).map((r) => r.fields);
      expect(written[0]).toEqual(['id', 'jid', 'password']);
      expect(written).toHaveLength(901);
      const created = new Map(
        creates
          .flatMap((c) => (c.op === 'create' ? c.accounts : []))
          .map((a) => [a.username, a.password]),
      );
      for (const [id, jid, password] of written.slice(1)) {
        expect(jid).toBe(`${id}@grid.example`);
        expect(created.get(id as string)).toBe(password);
      }
      expect(created.get('m-00000')).toBe('given-password-0');
    });

    it('reports every bad row with its line and imports nothing', async () => {
      const csv = file(
        'bad.csv',
        [
          'ID,Kind,groups',
          'm-1,relay,',
          'Bad_Id,relay,',
          'm-2,Not A Kind,',
          '',
          'm-1,relay,',
          'm-3,relay,good;Bad Group',
          ',relay,',
          'm-4,relay',
        ].join('\n'),
      );
      expect(await run('import', csv, '--credentials-out', join(dir, 'c.csv'))).toBe(2);
      const text = err.join('\n');
      expect(text).toContain('6 problem(s); nothing was imported');
      expect(text).toContain('line 3: id:');
      expect(text).toContain('line 4: kind:');
      expect(text).toContain("line 6: id 'm-1' already appears on line 2");
      expect(text).toContain('line 7: groups.1:');
      expect(text).toContain('line 8: id is empty');
      expect(text).toContain('line 9: expected 3 fields like the header, found 2');
      expect(fake.calls).toEqual([]);
      expect(registry.count()).toBe(0);
    });

    it('rejects a bad header and CSV syntax errors', async () => {
      expect(await run('import', file('h.csv', 'id,group\nm-1,a\n'))).toBe(2);
      expect(err.join('\n')).toContain("unknown column 'group'");
      err = [];
      expect(await run('import', file('n.csv', 'kind\nrelay\n'))).toBe(2);
      expect(err.join('\n')).toContain("no 'id' column");
      err = [];
      expect(await run('import', file('q.csv', 'id\n"m-1\n'))).toBe(2);
      expect(err.join('\n')).toContain('line 2: a quoted field is never closed');
      err = [];
      expect(await run('import', join(dir, 'missing.csv'))).toBe(2);
      expect(err.join('\n')).toContain('cannot read');
    });

    it('requires --credentials-out when a password must be generated', async () => {
      const csv = file('m.csv', 'id,password\nm-1,a-fine-password\nm-2,\n');
      expect(await run('import', csv)).toBe(2);
      expect(err.join('\n')).toContain('1 row(s) have no password (first on line 3)');
      expect(fake.calls).toEqual([]);
      err = [];
      expect(await run('import', file('all.csv', 'id,password\nm-1,a-fine-password\n'))).toBe(0);
      expect(registry.count()).toBe(1);
    });

    it('refuses to overwrite a credentials file', async () => {
      const existing = file('creds.csv', 'precious\n');
      expect(await run('import', file('m.csv', 'id\nm-1\n'), '--credentials-out', existing)).toBe(
        2,
      );
      expect(err.join('\n')).toContain('already exists');
      expect(readFileSync(existing, 'utf8')).toBe('precious\n');
      expect(fake.calls).toEqual([]);
    });

    it('skips meters that exist, and resumes after a failed chunk', async () => {
      await run('add', 'm-00001');
      fake.calls.length = 0;
      out = [];
      const lines = ['id,password'];
      for (let i = 0; i < 1200; i++) lines.push(`m-${String(i).padStart(5, '0')},password-${i}`);
      const csv = file('m.csv', lines.join('\n'));
      fake.control.failCreateAfter = 1;
      expect(await run('import', csv)).toBe(1);
      expect(err.join('\n')).toContain('skipping 1 meter(s) that already exist');
      expect(err.join('\n')).toContain('connection refused');
      expect(err.join('\n')).toContain('500 of 1199 meter(s) were imported');
      expect(registry.count()).toBe(501);

      fake.control.failCreateAfter = Number.POSITIVE_INFINITY;
      fake.calls.length = 0;
      err = [];
      expect(await run('import', csv)).toBe(0);
      expect(err.join('\n')).toContain('skipping 501 meter(s)');
      expect(fake.calls.flatMap((c) => (c.op === 'create' ? c.accounts : []))).toHaveLength(699);
      expect(registry.count()).toBe(1200);
    });
  });
});
