import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

// A real browser for the dashboard's tests (test/e2e/helpers/browser.ts) and its measurement
// (scripts/measure-dashboard.ts): Debian's Chromium driven by playwright-core, no download.

export const CHROMIUM_PATH = process.env.GP_CHROMIUM ?? '/usr/bin/chromium';

/**
 * What this machine needs (env notes): no sandbox as root, no GPU, and no background traffic,
 * which a closed network refuses many times over. Playwright adds --headless and gives every
 * launch a fresh, empty profile (user-data-dir) of its own.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: apt-get install -y chromium (.ci/run does), or set GP_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
  });
}

/**
 * Records in the page the moment the meter's row changes state (the browser's clock), for
 * rowChangedAt() to read: the change-to-row time is taken where the person would see it.
 */
export async function watchRow(page: Page, id: string): Promise<void> {
  await page.evaluate((meterId) => {
    const w = window as { __rowChangedAt?: number };
    w.__rowChangedAt = undefined;
    const row = () => document.querySelector(`tr[data-meter-id="${meterId}"]`);
    const before = row()?.getAttribute('data-state');
    const observer = new MutationObserver(() => {
      if (row()?.getAttribute('data-state') !== before) {
        w.__rowChangedAt = Date.now();
        observer.disconnect();
      }
    });
    observer.observe(document.querySelector('main') as Node, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-state'],
    });
  }, id);
}

/** Waits for the row change watchRow() set up and returns its time (ms since the epoch). */
export async function rowChangedAt(page: Page, timeoutMs: number): Promise<number> {
  const handle = await page.waitForFunction(
    () => (window as { __rowChangedAt?: number }).__rowChangedAt,
    null,
    { timeout: timeoutMs, polling: 'raf' },
  );
  return (await handle.jsonValue()) as number;
}
