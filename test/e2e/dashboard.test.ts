/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import { rowChangedAt, watchRow } from '../../src/stack/browser.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { summarize } from '../../src/util/percentiles.js';
import { apiFetch, getJson, getMeter, waitForRecordedState } from './helpers/api.js';
import { launchBrowser, openPage, screenshot, signIn } from './helpers/browser.js';
import { startTestStack } from './helpers/test-stack.js';

// Issue 5's dashboard in a real browser (Debian's Chromium through playwright-core) against the
// real stack: Prosody, the presence service and real agent processes. Signing in, the fleet's
// counts, a meter's change reaching its table row (timed from the agent's control request to the
// row's DOM change), the meter page's timeline, and the commands by role: a viewer has no buttons
// and a forged request is refused, an operator opens a relay after confirming and sees the
// presence change. Any console error or failed request fails the test. Screenshots of the
// overview and the meter page go to test-artifacts/ on every run.

const RUNNING = ['mtr-0001', 'mtr-0002', 'mtr-0003'];
/** Registered, never started: decoupled (PROTOCOL §1). */
const _NEVER_STARTED = 'mtr-0004';
const USERS = {
  viewer: { username: 'vera', password: 'vera-viewer-pass-1', role: 'viewer' },
  operator: { username: 'otto', password: 'otto-operator-pass-1', role: 'operator' },
} as const;

let stack: Stack;
let browser: Browser;
let base: string;

const agentDir = (id: string) => stack.agents.get(id)?.dataDir as string;

beforeAll(async () => {
  stack = await startTestStack(4);
  base = stack.apiUrl;
  for (const id of RUNNING) stack.startAgent(id);
  await Promise.all(RUNNING.map((id) => waitForRecordedState(stack, id, 'available')));
  for (const user of Object.values(USERS)) {
    const res = await apiFetch(stack, '/api/users', { method: 'POST', body: user });
    expect(res.status, await res.clone().text()).toBe(201);
  }
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Text of the overview's count for a state. */
const countOf = (page: Page, state: string) =>
  page.locator(`li[data-state="${state}"] .count-value`).textContent();

describe('the dashboard', () => {
  it('is served at / with a strict CSP, and its assets are cached for good', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    const script = /<script type="module" src="([^"]+)"/.exec(html)?.[1] as string;
    expect(script).toMatch(/^\/assets\/[0-9a-f]{12}\/app\/main\.js$/);
    const asset = await fetch(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    // The page is public; what it reads is not.
    expect((await fetch(`${base}/api/fleet/meters`)).status).toBe(401);
  });

  it('signs in and shows the right counts per state', async () => {
    const w = await openPage(browser);
    try {
      await signIn(w.page, base, stack.admin);
      await expect.poll(() => countOf(w.page, 'available'), { timeout: 5_000 }).toBe('3');
      expect(await countOf(w.page, 'decoupled')).toBe('1');
      for (const state of ['active', 'restricted', 'unavailable']) {
        expect(await countOf(w.page, state)).toBe('0');
      }
      const stats = await getJson<{ counts: Record<string, number> }>(stack, '/api/stats');
      expect(stats.counts).toMatchObject({ available: 3, decoupled: 1 });
      await expect.poll(() => w.page.locator('.u-over').count()).toBe(1); // the chart is drawn
      await w.page.locator('#live-status[data-status="live"]').waitFor();
      console.log(`overview screenshot: ${await screenshot(w.page, 'dashboard-overview')}`);

      // A phone-sized screen: nothing wider than the screen.
      await w.page.setViewportSize({ width: 390, height: 844 });
      for (const hash of ['#/', '#/meters', `#/meters/${RUNNING[0]}`]) {
        await w.page.goto(`${base}/${hash}`);
        await w.page.locator('main h1').waitFor();
        const overflow = await w.page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        expect(overflow, `${hash} is wider than a phone`).toBeLessThanOrEqual(0);
      }
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('is usable with the keyboard', async () => {
    const w = await openPage(browser);
    try {
      await signIn(w.page, base, stack.admin, '#/meters');
      await w.page.locator(`tr[data-meter-id="${RUNNING[0]}"]`).waitFor();
      // A new view puts the focus on its heading; the skip link is the page's first stop and
      // moves the focus to the content.
      expect(await w.page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
      const firstStop = await w.page.evaluate(
        () => document.querySelector('a[href], button, input, select')?.id,
      );
      expect(firstStop).toBe('skip');
      await w.page.locator('#skip').focus();
      await w.page.keyboard.press('Enter');
      expect(await w.page.evaluate(() => document.activeElement?.id)).toBe('main');
      // Sorting is a real button in the column header.
      await w.page.getByRole('button', { name: /^State/ }).focus();
      await w.page.keyboard.press('Enter');
      await expect.poll(() => w.page.locator('th[aria-sort]').textContent()).toMatch(/^State/);
      expect(w.page.url()).toContain('sort=state');
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it("changes a meter's row within a second of the change on the real agent", async () => {
    const w = await openPage(browser);
    const id = RUNNING[0] as string;
    try {
      await signIn(w.page, base, stack.admin, '#/meters');
      const row = w.page.locator(`tr[data-meter-id="${id}"]`);
      await row.and(w.page.locator('[data-state="available"]')).waitFor();
      await w.page.locator('#live-status[data-status="live"]').waitFor();
      const samples: number[] = [];
      // tamper, clear, tamper, clear, tamper: the meter ends restricted for the next test.
      const steps = ['tamper', 'tamper-clear', 'tamper', 'tamper-clear', 'tamper'] as const;
      for (const step of steps) {
        const expected = step === 'tamper' ? 'restricted' : 'available';
        await watchRow(w.page, id);
        const requestedAt = Date.now();
        await controlRequest(agentDir(id), { op: 'inject', name: step });
        const changedAt = await rowChangedAt(w.page, 5_000);
        samples.push(changedAt - requestedAt);
        expect(await row.getAttribute('data-state')).toBe(expected);
      }
      await expect(row.locator('.cell-state').textContent()).resolves.toMatch(
        /Restricted\s*·?\s*tamper-suspected/,
      );
      const s = summarize(samples);
      console.log(
        `agent change → table row: ${samples.map((ms) => `${ms} ms`).join(', ')} (median ${s.p50} ms, max ${s.max} ms)`,
      );
      // Issue 5's requirement; the measured times are far below it (BENCHMARKS.md).
      expect(s.max).toBeLessThan(1_000);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it("shows the change in the meter page's timeline, live", async () => {
    const w = await openPage(browser);
    const id = RUNNING[0] as string;
    try {
      await signIn(w.page, base, stack.admin, `#/meters/${id}`);
      await w.page.getByRole('button', { name: '1 h' }).click();
      const band = w.page.locator('.timeline-band');
      await band.locator('li[data-state="restricted"]').first().waitFor();
      expect(await band.locator('li[data-state="available"]').count()).toBeGreaterThan(0);
      await expect(w.page.locator('.current').textContent()).resolves.toContain('tamper');

      // A change while the page is open: the state above and the band's last segment follow.
      await controlRequest(agentDir(id), { op: 'inject', name: 'tamper-clear' });
      await expect
        .poll(() => band.locator('li.segment').last().getAttribute('data-state'), {
          timeout: 5_000,
        })
        .toBe('available');
      await expect(w.page.locator('.current .state').textContent()).resolves.toContain('Available');
      expect(await w.page.locator('.availability tbody tr').count()).toBe(7);
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('shows a viewer no command buttons, and refuses a forged command', async () => {
    const w = await openPage(browser);
    const id = RUNNING[1] as string;
    try {
      await signIn(w.page, base, USERS.viewer, `#/meters/${id}`);
      await w.page.locator('.current .state').waitFor();
      await w.page.locator('#audit-title').waitFor();
      expect(
        await w.page
          .locator('main button', { hasText: /relay|limit|maintenance|Read registers/i })
          .count(),
      ).toBe(0);
      expect(await w.page.locator('#commands-title').count()).toBe(0);

      // The viewer's own session, its CSRF token and all: still not allowed to command.
      const session = (await (await w.page.request.get(`${base}/api/session`)).json()) as {
        csrfToken: string;
        user: { role: string };
      };
      expect(session.user.role).toBe('viewer');
      const forged = await w.page.request.post(`${base}/api/meters/${id}/commands`, {
        headers: { 'x-csrf-token': session.csrfToken },
        data: { command: 'relay', args: { action: ['open'], confirm: ['true'] } },
      });
      expect(forged.status()).toBe(403);
      expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('forbidden');
      expect((await getMeter(stack, id)).state).toBe('available');
      w.assertClean();
    } finally {
      await w.close();
    }
  });

  it('lets an operator open a relay after confirming, and shows the presence change', async () => {
    const w = await openPage(browser);
    const id = RUNNING[1] as string;
    try {
      await signIn(w.page, base, USERS.operator, `#/meters/${id}`);
      await w.page.locator('.current .state', { hasText: 'Available' }).waitFor();
      const open = w.page.getByRole('button', { name: 'Open relay…' });
      const dialog = w.page.getByRole('dialog');

      // Cancelling sends nothing.
      await open.click();
      await expect(dialog.textContent()).resolves.toContain(id);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect(await w.page.locator('.command-output').textContent()).toBe('');

      await open.click();
      await dialog.getByRole('button', { name: 'Open relay' }).click();
      await w.page.locator('.command-output.ok', { hasText: 'Open relay: done' }).waitFor();
      // PROTOCOL §1: the relay command makes it active, then restricted/relay-open.
      await w.page
        .locator('.current .state', { hasText: /Restricted\s*·?\s*relay-open/ })
        .waitFor({ timeout: 10_000 });
      await waitForRecordedState(stack, id, 'restricted', 'relay-open');
      await w.page.getByRole('button', { name: '1 h' }).click();
      await w.page.locator('.timeline-band li[data-state="restricted"]').first().waitFor();
      // The meter's audit report arrives as data, a moment after the answer.
      await expect
        .poll(() => w.page.locator('#audit-title + *').textContent(), { timeout: 10_000 })
        .toMatch(/relay/);
      console.log(`meter page screenshot: ${await screenshot(w.page, 'dashboard-meter')}`);
      w.assertClean();
    } finally {
      await w.close();
    }
  });
});
