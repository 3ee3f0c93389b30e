import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCsv } from '../../presence-service/cli/csv.js';
import { createDataStore, type DataStore } from '../../presence-service/data/data-store.js';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import {
  csvCell,
  EXPORT_LIMITS,
  registerCsvRoutes,
} from '../../presence-service/http/csv-routes.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createExportQueries } from '../../presence-service/store/export-queries.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  type PresenceStore,
  type StateChangeInput,
} from '../../presence-service/store/presence-store.js';
import type { DataValue } from '../../src/protocol/data.js';
import type { MeterState } from '../../src/protocol/states.js';

// CSV exports of history and readings (docs/protocol.md "Data", HTTP), by injection against a
// real in-memory store: RFC 4180 quoting, the formula-injection guard, windows, one column per
// register, the fleet export's bound, and streaming that leaves the database free between pages.

const DOMAIN = 'grid.example';
const NOW = new Date('2026-11-28T00:00:00.000Z');
const T = (hhmm: string, day = 27) => `2026-11-${day}T${hhmm}:00.000Z`;

let db: Database;
let store: PresenceStore;
let data: DataStore;
let app: FastifyInstance;

function change(
  meterId: string,
  receivedAt: string,
  state: MeterState,
  extra: Partial<StateChangeInput> = {},
) {
  return store.record({
    meterId,
    prevState: store.current(meterId)?.state ?? null,
    state,
    reasonCode: null,
    reasonText: null,
    seq: (store.current(meterId)?.seq ?? 0) + 1,
    since: receivedAt,
    kind: 'revenue-meter',
    receivedAt,
    source: 'push',
    gap: 0,
    ...extra,
  });
}

function reading(meterId: string, seq: number, ts: string, values: DataValue[], delayed = false) {
  data.record(
    meterId,
    { kind: 'reading', seq, ts, values },
    { receivedAt: new Date(Date.parse(ts) + 40).toISOString(), delayed },
  );
}

/** GET and parse; the CSV must end each record with CRLF. */
async function getCsv(url: string) {
  const res = await app.inject(url);
  const records = res.statusCode === 200 ? parseCsv(res.body).map((r) => r.fields) : [];
  return { res, header: records[0] ?? [], rows: records.slice(1) };
}

beforeEach(async () => {
  db = openDatabase(':memory:');
  store = createPresenceStore({ db });
  data = createDataStore({ db });
  const registry = createMeterRegistry({ db });
  registry.addMany([
    { id: 'mtr-0001', domain: DOMAIN, groups: ['feeder-1'] },
    { id: 'mtr-0002', domain: DOMAIN, groups: ['feeder-1'] },
    { id: 'mtr-0003', domain: DOMAIN },
  ]);
  app = Fastify();
  installErrorHandlers(app);
  registerCsvRoutes(app, { registry, exports: createExportQueries({ db }), now: () => NOW });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  db.close();
});

describe('csvCell', () => {
  it('quotes per RFC 4180 only when needed', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(false)).toBe('false');
  });

  it('defuses formulas but leaves numbers alone', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('+cmd')).toBe("'+cmd");
    expect(csvCell('-1+2')).toBe("'-1+2");
    expect(csvCell("-2+3+cmd|' /C calc'!A0")).toBe("'-2+3+cmd|' /C calc'!A0");
    expect(csvCell('\tindent')).toBe("'\tindent");
    expect(csvCell('\rx')).toBe(`"'\rx"`);
    // numbers, negative or signed, stay numbers
    for (const n of ['-12.5', '+3', '-0.98', '1e-3', '-.5', '-7E+2']) expect(csvCell(n)).toBe(n);
    // only the first character matters
    expect(csvCell('a=b')).toBe('a=b');
  });
});

describe('GET /api/meters/:id/history.csv', () => {
  it('sends every change in the window, oldest first, as an attachment', async () => {
    change('mtr-0001', T('09:00'), 'available');
    change('mtr-0001', T('10:00'), 'restricted', {
      reasonCode: 'load-limit',
      reasonText: 'limit 5 kW, until "14:30", then off\nsecond line',
    });
    change('mtr-0001', T('11:00'), 'available');
    change('mtr-0001', T('12:00'), 'decoupled', {
      reasonCode: 'connection-lost',
      seq: null,
      since: null,
      source: 'server',
    });
    change('mtr-0002', T('10:30'), 'available');

    const { res, header, rows } = await getCsv(
      '/api/meters/mtr-0001/history.csv?since=2026-11-27T10:00:00Z&until=2026-11-27T12:00:00Z',
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="mtr-0001-history-20261127T100000Z-20261127T120000Z.csv"',
    );
    expect(res.body.startsWith('received_at,meter_id,prev_state,state,')).toBe(true);
    // every record ends with CRLF; the only bare LF is the one inside the quoted reason
    expect(res.body.endsWith('\r\n')).toBe(true);
    expect(res.body.replaceAll('\r\n', '').split('\n')).toHaveLength(2);
    expect(header).toEqual([
      'received_at',
      'meter_id',
      'prev_state',
      'state',
      'reason_code',
      'reason_text',
      'seq',
      'since',
      'source',
      'gap',
    ]);
    // bounds are inclusive
    expect(rows.map((r) => r[0])).toEqual([T('10:00'), T('11:00'), T('12:00')]);
    expect(rows[0]).toEqual([
      T('10:00'),
      'mtr-0001',
      'available',
      'restricted',
      'load-limit',
      'limit 5 kW, until "14:30", then off\nsecond line',
      '2',
      T('10:00'),
      'push',
      '0',
    ]);
    // nulls are empty cells
    expect(rows[2]).toEqual([
      T('12:00'),
      'mtr-0001',
      'available',
      'decoupled',
      'connection-lost',
      '',
      '',
      '',
      'server',
      '0',
    ]);
  });

  it("defuses a meter's reason text that would be a formula", async () => {
    change('mtr-0001', T('10:00'), 'unavailable', {
      reasonCode: 'fault',
      reasonText: '=cmd|" /C calc"!A0',
    });
    const { rows } = await getCsv('/api/meters/mtr-0001/history.csv');
    expect(rows[0]?.[5]).toBe(`'=cmd|" /C calc"!A0`);
  });

  it('defaults to the 24 hours before now, and says so in the file name', async () => {
    change('mtr-0001', T('23:00', 26), 'available'); // 25 h before NOW
    change('mtr-0001', T('01:00'), 'restricted', { reasonCode: 'on-battery' });
    const { res, rows } = await getCsv('/api/meters/mtr-0001/history.csv');
    expect(rows.map((r) => r[3])).toEqual(['restricted']);
    expect(res.headers['content-disposition']).toContain(
      'mtr-0001-history-20261127T000000Z-20261128T000000Z.csv',
    );
  });

  it('sends only the header for a window without changes', async () => {
    const { res, rows } = await getCsv('/api/meters/mtr-0003/history.csv');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(
      'received_at,meter_id,prev_state,state,reason_code,reason_text,seq,since,source,gap\r\n',
    );
    expect(rows).toEqual([]);
  });

  it('pages through changes that share a timestamp without losing or repeating any', async () => {
    const total = EXPORT_LIMITS.pageRows * 2 + 7;
    db.transaction(() => {
      for (let i = 0; i < total; i++) {
        change('mtr-0001', T('10:00'), i % 2 ? 'available' : 'active', { seq: i + 1 });
      }
    })();
    const { rows } = await getCsv('/api/meters/mtr-0001/history.csv');
    expect(rows.map((r) => Number(r[6]))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('refuses bad windows and unknown meters', async () => {
    const bad = [
      [
        '/api/meters/mtr-0001/history.csv?since=2026-11-27T12:00:00Z&until=2026-11-27T10:00:00Z',
        400,
        /before/,
      ],
      ['/api/meters/mtr-0001/history.csv?since=yesterday', 400, /since/],
      ['/api/meters/mtr-0001/history.csv?since=2026-02-30T00:00:00Z', 400, /since/],
      ['/api/meters/mtr-0001/history.csv?since=2025-01-01T00:00:00Z', 400, /366 days/],
      ['/api/meters/Not_A_Meter/history.csv', 400, /path parameter 'id'/],
      ['/api/meters/mtr-9999/history.csv', 404, /not registered/],
    ] as const;
    for (const [url, status, message] of bad) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(status);
      expect(res.json().error.message, url).toMatch(message);
    }
  });

  it("keeps a removed meter's history exportable", async () => {
    change('mtr-0009', T('10:00'), 'available');
    const { res, rows } = await getCsv('/api/meters/mtr-0009/history.csv');
    expect(res.statusCode).toBe(200);
    expect(rows).toHaveLength(1);
  });
});

describe('GET /api/meters/:id/readings.csv', () => {
  const kwh = (v: string): DataValue => ({ id: '1-0:1.8.0', value: v, unit: 'kWh' });
  const export_ = (v: string): DataValue => ({ id: '1-0:2.8.0', value: v, unit: 'kWh' });
  const volts = (v: string): DataValue => ({ id: '1-0:32.7.0', value: v, unit: 'V' });
  const pf = (v: string): DataValue => ({ id: '1-0:13.7.0', value: v, unit: '' });
  const meterIdRegister = (v: string): DataValue => ({ id: '0-0:96.1.1', value: v, unit: '' });

  it('writes one column per register found in the window, with its unit in the header', async () => {
    reading('mtr-0001', 1, T('09:00'), [kwh('1.000'), { id: '1-0:72.7.0', value: '1', unit: 'V' }]);
    reading('mtr-0001', 2, T('10:00'), [kwh('2.000'), volts('231.4'), pf('-0.98')]);
    reading(
      'mtr-0001',
      3,
      T('10:01'),
      [kwh('2.500'), export_('0.100'), meterIdRegister('=1+1')],
      true,
    );
    // a register reported in another unit gets a column of its own
    reading('mtr-0001', 4, T('10:02'), [{ id: '1-0:1.8.0', value: '2600', unit: 'Wh' }]);
    data.record(
      'mtr-0001',
      { kind: 'reading', seq: 5, ts: T('10:03'), values: [kwh('2.700')], dropped: 2 },
      { receivedAt: T('10:04'), delayed: false },
    );

    const { res, header, rows } = await getCsv(
      '/api/meters/mtr-0001/readings.csv?since=2026-11-27T10:00:00Z&until=2026-11-27T11:00:00Z',
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="mtr-0001-readings-20261127T100000Z-20261127T110000Z.csv"',
    );
    // OBIS order (A-B:C.D.E numerically), then unit; 1-0:72.7.0 is only outside the window
    expect(header).toEqual([
      'ts',
      'seq',
      'received_at',
      'delayed',
      'dropped',
      '0-0:96.1.1',
      '1-0:1.8.0 (Wh)',
      '1-0:1.8.0 (kWh)',
      '1-0:2.8.0 (kWh)',
      '1-0:13.7.0',
      '1-0:32.7.0 (V)',
    ]);
    expect(rows).toEqual([
      [
        T('10:00'),
        '2',
        '2026-11-27T10:00:00.040Z',
        'false',
        '0',
        '',
        '',
        '2.000',
        '',
        '-0.98',
        '231.4',
      ],
      [
        T('10:01'),
        '3',
        '2026-11-27T10:01:00.040Z',
        'true',
        '0',
        "'=1+1",
        '',
        '2.500',
        '0.100',
        '',
        '',
      ],
      [T('10:02'), '4', '2026-11-27T10:02:00.040Z', 'false', '0', '', '2600', '', '', '', ''],
      [T('10:03'), '5', T('10:04'), 'false', '2', '', '', '2.700', '', '', ''],
    ]);
  });

  it('sends only the fixed columns when the window has no reading, and 404s a stranger', async () => {
    const { res, header, rows } = await getCsv('/api/meters/mtr-0002/readings.csv');
    expect(res.statusCode).toBe(200);
    expect(header).toEqual(['ts', 'seq', 'received_at', 'delayed', 'dropped']);
    expect(rows).toEqual([]);
    expect((await app.inject('/api/meters/mtr-0404/readings.csv')).statusCode).toBe(404);
  });
});

describe('GET /api/history.csv (the fleet)', () => {
  it("sends every meter's changes, meter by meter, each oldest first", async () => {
    change('mtr-0002', T('10:00'), 'available');
    change('mtr-0001', T('10:05'), 'available');
    change('mtr-0003', T('10:10'), 'available');
    change('mtr-0001', T('10:15'), 'active', { reasonCode: 'dr-event' });
    change('mtr-0009', T('10:20'), 'available'); // removed since: its history still counts
    change('mtr-0001', T('09:00', 26), 'available'); // outside the default window
    const { res, rows } = await getCsv('/api/history.csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="fleet-history-20261127T000000Z-20261128T000000Z.csv"',
    );
    expect(rows.map((r) => `${r[1]} ${r[3]}`)).toEqual([
      'mtr-0001 available',
      'mtr-0001 active',
      'mtr-0002 available',
      'mtr-0003 available',
      'mtr-0009 available',
    ]);
  });

  it("keeps a group's members only", async () => {
    change('mtr-0001', T('10:00'), 'available');
    change('mtr-0002', T('10:00'), 'available');
    change('mtr-0003', T('10:00'), 'available');
    const { res, rows } = await getCsv('/api/history.csv?group=feeder-1');
    expect(res.headers['content-disposition']).toContain('filename="feeder-1-history-');
    expect(rows.map((r) => r[1])).toEqual(['mtr-0001', 'mtr-0002']);
    expect((await app.inject('/api/history.csv?group=feeder-404')).statusCode).toBe(404);
  });

  it('refuses a window over 31 days, and takes one of exactly 31', async () => {
    const over = await app.inject(
      '/api/history.csv?since=2026-10-01T00:00:00Z&until=2026-11-01T00:00:01Z',
    );
    expect(over.statusCode).toBe(400);
    expect(over.json()).toEqual({
      error: {
        code: 'bad-request',
        message: "the window from 'since' to 'until' is over 31 days; export it in parts",
      },
    });
    const exactly = await app.inject(
      '/api/history.csv?since=2026-10-01T00:00:00Z&until=2026-11-01T00:00:00Z',
    );
    expect(exactly.statusCode).toBe(200);
    // without since, the 31 days count back from until
    expect((await app.inject('/api/history.csv?until=2026-11-01T00:00:00Z')).statusCode).toBe(200);
  });

  it('streams page by page: the database takes writes while an export is under way', async () => {
    const perMeter = EXPORT_LIMITS.pageRows + 50;
    db.transaction(() => {
      for (const id of ['mtr-0001', 'mtr-0002', 'mtr-0003']) {
        for (let i = 0; i < perMeter; i++) {
          change(id, new Date(Date.parse(T('08:00')) + i * 1000).toISOString(), 'available', {
            seq: i + 1,
          });
        }
      }
    })();
    let finished = false;
    const exporting = app.inject('/api/history.csv').finally(() => {
      finished = true;
    });
    // Writes between the pages: an iterator held open across the stream would make each of
    // these throw "This database connection is busy executing a query".
    let written = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      change('mtr-0003', T('23:00'), i % 2 ? 'available' : 'active', { seq: 10_000 + i });
      written++;
      if (i === 0) expect(finished).toBe(false); // the first write falls inside the export
    }
    const res = await exporting;
    expect(written).toBe(20);
    expect(res.statusCode).toBe(200);
    const rows = parseCsv(res.body).slice(1);
    expect(rows.length).toBeGreaterThanOrEqual(3 * perMeter);
    // each meter's rows are in order and none repeats
    const ids = rows.map((r) => r.fields.join('|'));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
