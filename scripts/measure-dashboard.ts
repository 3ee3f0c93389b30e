/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BrowserContext } from 'playwright-core';
import { controlRequest } from '../meter-agent/control/control-client.js';
import { openDatabase } from '../presence-service/store/database.js';
import { createPresenceStore } from '../presence-service/store/presence-store.js';
import { reportCliError } from '../src/cli/report-error.js';
import { ensureProsodyInstalled } from '../src/harness/index.js';
import { createRootLogger, silentLogger } from '../src/log.js';
import type { MeterState } from '../src/protocol/index.js';
import { CHROMIUM_PATH, launchBrowser, rowChangedAt, watchRow } from '../src/stack/browser.js';
import { meterIdFor, type Stack, startStack } from '../src/stack/start-stack.js';
import { waitFor } from '../src/stack/wait.js';
import { summarize } from '../src/util/percentiles.js';

// `npm run measure:dashboard` (issue 5): the dashboard in Debian's Chromium against a stack
// with 10,000 registered meters. (1) load time: from navigation to the fully rendered meter
// table (50 rows of 10,000, sorted on the server) and to the overview's counts and 24 h chart,
// each over several samples; (2) a real agent's state change (its control socket) to the change
// of its row in the open table, over several samples, split at the service's record.
//
// The 10,000 are registered (XMPP accounts and registry, as `meters import` does), a few run as
// real agents, and the others carry a synthetic 24 h history (a few changes each, ending
// decoupled, written with the service's own store) so that the timeline query replays a busy
// day. 10,000 live agents would put a simulator on the same two cores as the browser and
// measure it rather than the dashboard; their server-side cost is in BENCHMARKS.md (liveness).

const HELP = `Usage: npm run measure:dashboard -- [--meters 10000] [--agents 5] [--loads 10]
                                  [--changes 20] [--history 5]

Starts Prosody, the service, --agents real agents and registers --meters meters in all, gives
the others --history synthetic state changes each over the last 24 h, then times page loads
and change-to-row updates in headless Chromium (/usr/bin/chromium, or GP_CHROMIUM).
Writes bench/results/dashboard-<time>.json.
`;

const PAGE_SIZE = 50;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      meters: { type: 'string', default: '10000' },
      agents: { type: 'string', default: '5' },
      loads: { type: 'string', default: '10' },
      changes: { type: 'string', default: '20' },
      history: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const meters = Number(values.meters);
  const agents = Math.min(Number(values.agents), meters);
  const loads = Number(values.loads);
  const changes = Number(values.changes);
  const historyPerMeter = Number(values.history);
  const logger = createRootLogger({ name: 'measure-dashboard', level: 'info' });
  await ensureProsodyInstalled(logger);

  const dataDir = mkdtempSync(join(tmpdir(), 'gp-dashboard-'));
  logger.info({ meters }, 'starting the stack (creating the accounts takes a while)');
  const stackStarted = Date.now();
  const stack = await startStack({
    dataDir,
    meterCount: meters,
    logger: silentLogger(),
    serviceLogLevel: 'warn',
    agentConfig: { meter: { eventRatePerHour: 0 }, log: { level: 'warn' } },
  });
  const browser = await launchBrowser();
  try {
    logger.info({ seconds: Math.round((Date.now() - stackStarted) / 1000) }, 'stack up');
    const agentIds = Array.from({ length: agents }, (_, i) => meterIdFor(i));
    for (const id of agentIds) stack.startAgent(id);
    await waitFor(
      `${agents} agents recorded available`,
      async () => {
        const res = await fetch(`${stack.apiUrl}/api/stats`, {
          headers: { authorization: `Bearer ${stack.apiToken}` },
        });
        const body = (await res.json()) as { counts: Record<string, number> };
        return body.counts.available === agents || undefined;
      },
      120_000,
      250,
    );
    const seeded = seedHistory(stack, meters, agents, historyPerMeter);
    logger.info({ changes: seeded }, 'synthetic history written');

    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      locale: 'en-GB',
      timezoneId: 'UTC',
    });
    const problems: string[] = [];
    context.on('page', (page) => {
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/401 .*\/api\/session/.test(`${m.text()} ${m.location().url}`))
          problems.push(m.text());
      });
    });
    const signInPage = await context.newPage();
    await signInPage.goto(`${stack.apiUrl}/#/`);
    await signInPage.getByLabel('User name').fill(stack.admin.username);
    await signInPage.getByLabel('Password').fill(stack.admin.password);
    await signInPage.getByRole('button', { name: 'Sign in' }).click();
    await signInPage.locator('#nav:not([hidden])').waitFor();
    await signInPage.close();

    // (1) Loads: a new page (tab) each time, the session cookie and the browser cache kept,
    // as when someone opens the dashboard again; the first sample starts with an empty cache.
    const tableMs: number[] = [];
    const overviewMs: number[] = [];
    for (let i = 0; i < loads; i++) {
      tableMs.push(await timeLoad(context, `${stack.apiUrl}/#/meters`, tableRendered, meters));
      overviewMs.push(await timeLoad(context, `${stack.apiUrl}/#/`, overviewRendered, meters));
    }
    logger.info({ loads }, 'page loads timed');

    // (2) Change → row, on the open table (sorted by id: the agents' rows are on page 1).
    const page = await context.newPage();
    await page.goto(`${stack.apiUrl}/#/meters`);
    await page.waitForFunction(tableRendered, meters);
    await page.locator('#live-status[data-status="live"]').waitFor();
    const totalMs: number[] = [];
    const toRecordMs: number[] = [];
    const toRowMs: number[] = [];
    const states = new Map(agentIds.map((id) => [id, 'available']));
    for (let i = 0; i < changes; i++) {
      const id = agentIds[i % agents] as string;
      const tamper = states.get(id) === 'available';
      await watchRow(page, id);
      const requestedAt = Date.now();
      await controlRequest(stack.agents.get(id)?.dataDir as string, {
        op: 'inject',
        name: tamper ? 'tamper' : 'tamper-clear',
      });
      const changedAt = await rowChangedAt(page, 30_000);
      // The row's "Recorded" cell holds the service's received_at: the split point.
      const recordedAt = Date.parse(
        (await page
          .locator(`tr[data-meter-id="${id}"] .cell-changed time`)
          .getAttribute('datetime')) as string,
      );
      states.set(id, tamper ? 'restricted' : 'available');
      totalMs.push(changedAt - requestedAt);
      toRecordMs.push(recordedAt - requestedAt);
      toRowMs.push(changedAt - recordedAt);
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.close();

    const result = {
      script: 'scripts/measure-dashboard.ts',
      command: `npm run measure:dashboard -- --meters ${meters} --agents ${agents} --loads ${loads} --changes ${changes} --history ${historyPerMeter}`,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      browser: `${CHROMIUM_PATH} ${browser.version()}`,
      setup: {
        registeredMeters: meters,
        runningAgents: agents,
        syntheticChanges: seeded,
        tablePageSize: PAGE_SIZE,
      },
      loadMs: {
        table: { ...summarize(tableMs), firstColdCache: tableMs[0], samples: tableMs },
        overview: { ...summarize(overviewMs), samples: overviewMs },
      },
      changeToRowMs: {
        total: { ...summarize(totalMs), samples: totalMs },
        agentToRecord: summarize(toRecordMs),
        recordToRow: summarize(toRowMs),
      },
      pageProblems: problems,
    };
    const row = (name: string, s: { count: number; p50: number; p99: number; max: number }) =>
      `${name.padEnd(46)}${String(s.count).padStart(4)}${`${s.p50.toFixed(0)} ms`.padStart(10)}${`${s.p99.toFixed(0)} ms`.padStart(10)}${`${s.max.toFixed(0)} ms`.padStart(10)}\n`;
    process.stdout.write(
      `\ndashboard, ${meters.toLocaleString('en')} registered meters (${agents} real agents), Chromium ${browser.version()}\n` +
        `${''.padEnd(46)}   n       p50       p99       max\n` +
        row('load: navigation → meter table rendered', summarize(tableMs)) +
        row('load: navigation → overview counts + chart', summarize(overviewMs)) +
        row('agent change → table row changed', summarize(totalMs)) +
        row('  of which agent → service record', summarize(toRecordMs)) +
        row('  of which service record → row (SSE, DOM)', summarize(toRowMs)) +
        `first table load (empty cache): ${tableMs[0]} ms; page problems: ${problems.length}\n`,
    );
    mkdirSync('bench/results', { recursive: true });
    const file = join('bench/results', `dashboard-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nwritten to ${file}\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await browser.close();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** In the page: the table shows a full first page and the registry's total. */
function tableRendered(total: number): number | false {
  const rows = document.querySelectorAll('tr[data-meter-id]').length;
  const summary = document.querySelector('.table-summary')?.textContent ?? '';
  return rows === Math.min(50, total) && summary.replace(/\D/g, '').endsWith(String(total))
    ? performance.now()
    : false;
}

/** In the page: the counts are shown and the chart has its data. */
function overviewRendered(): number | false {
  const counts = document.querySelectorAll('.state-counts li').length === 5;
  const chart = /changes in 24 h/.test(document.querySelector('.chart-card')?.textContent ?? '');
  return counts && chart ? performance.now() : false;
}

/** Opens `url` in a new tab: ms from its navigation start to `rendered` (checked every frame). */
async function timeLoad(
  context: BrowserContext,
  url: string,
  rendered: (total: number) => number | false,
  total: number,
): Promise<number> {
  const page = await context.newPage();
  try {
    await page.goto(url);
    const handle = await page.waitForFunction(rendered, total, { polling: 'raf' });
    return Math.round((await handle.jsonValue()) as number);
  } finally {
    await page.close();
  }
}

/**
 * A busy day for the meters without an agent: `perMeter` changes each at random times in the
 * last 24 h, through the states, the last one decoupled/connection-lost (what the service would
 * have recorded when they went away). Written with the service's own store, beside the running
 * service (WAL); nothing live sees them, only the history queries.
 */
function seedHistory(stack: Stack, meters: number, agents: number, perMeter: number): number {
  if (perMeter <= 0) return 0;
  const db = openDatabase(join(stack.description.serviceConfig, '..', 'presence.db'));
  const store = createPresenceStore({ db });
  const cycle: MeterState[] = ['available', 'restricted', 'available', 'unavailable', 'active'];
  const now = Date.now();
  let written = 0;
  const rows: Array<{ meterId: string; at: number; state: MeterState; last: boolean }> = [];
  for (let i = agents; i < meters; i++) {
    const meterId = meterIdFor(i);
    const times = Array.from({ length: perMeter }, () => now - Math.random() * 86_400_000).sort(
      (a, b) => a - b,
    );
    times.forEach((at, k) => {
      const last = k === perMeter - 1;
      rows.push({
        meterId,
        at,
        state: last ? 'decoupled' : (cycle[k % cycle.length] as MeterState),
        last,
      });
    });
  }
  rows.sort((a, b) => a.at - b.at);
  const previous = new Map<string, MeterState>();
  const seqs = new Map<string, number>();
  db.transaction(() => {
    for (const row of rows) {
      store.record({
        meterId: row.meterId,
        prevState: previous.get(row.meterId) ?? null,
        state: row.state,
        reasonCode: row.last
          ? 'connection-lost'
          : row.state === 'restricted'
            ? 'tamper-suspected'
            : null,
        reasonText: null,
        seq: row.last ? null : (seqs.get(row.meterId) ?? 0) + 1,
        since: null,
        kind: 'revenue-meter',
        receivedAt: new Date(row.at).toISOString(),
        source: row.last ? 'server' : 'push',
        gap: 0,
      });
      previous.set(row.meterId, row.state);
      if (!row.last) seqs.set(row.meterId, (seqs.get(row.meterId) ?? 0) + 1);
      written += 1;
    }
  })();
  db.close();
  return written;
}

main().then(
  (code) => process.exit(code),
  (error) => process.exit(reportCliError('measure-dashboard', error)),
);
