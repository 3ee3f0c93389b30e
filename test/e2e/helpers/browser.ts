import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

// A real browser for the dashboard's tests and measurements: Debian's Chromium driven by
// playwright-core (no browser download). Every page records console errors, uncaught exceptions
// and failed requests, and a test fails on any it did not expect (issue 5: no console errors).

export { CHROMIUM_PATH, launchBrowser } from '../../../src/stack/browser.js';

/** Where screenshots are kept between runs (ignored by git). */
export const ARTIFACTS_DIR = resolve('test-artifacts');

export interface WatchedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors, page errors and failed requests seen so far that were not expected. */
  readonly problems: string[];
  /** Expect problems matching `pattern` (e.g. a refusal the test provokes) until `done()`. */
  expect(pattern: RegExp): { done(): void };
  /** Throws if anything unexpected was seen. */
  assertClean(): void;
  close(): Promise<void>;
}

/** Problems that are part of the contract, not bugs: none so far. */
const ALWAYS_EXPECTED: RegExp[] = [];

/** A new context (its own cookies) and page, watched for problems. */
export async function openPage(
  browser: Browser,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 900 },
    // Dates in the page are then the same whatever the machine's locale.
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  const problems: string[] = [];
  const expected = new Set<RegExp>(ALWAYS_EXPECTED);
  const report = (text: string) => {
    if (![...expected].some((pattern) => pattern.test(text))) problems.push(text);
  };
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const where = message.location().url;
    report(`console error: ${message.text()}${where ? ` (${where})` : ''}`);
  });
  page.on('pageerror', (error) => report(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText ?? 'failed';
    // Leaving a page aborts its open event stream: that is not a failure.
    if (failure === 'net::ERR_ABORTED') return;
    report(`request failed: ${request.method()} ${request.url()} ${failure}`);
  });
  return {
    page,
    context,
    problems,
    expect(pattern) {
      expected.add(pattern);
      return { done: () => expected.delete(pattern) };
    },
    assertClean() {
      if (problems.length > 0) {
        throw new Error(`the page had problems:\n  ${problems.join('\n  ')}`);
      }
    },
    close: () => context.close(),
  };
}

/** Signs in through the form and waits for the signed-in page. */
export async function signIn(
  page: Page,
  baseUrl: string,
  user: { username: string; password: string },
  hash = '#/',
): Promise<void> {
  await page.goto(`${baseUrl}/${hash}`);
  await page.getByLabel('User name').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#nav:not([hidden])').waitFor();
}

/** Saves a full-page screenshot under test-artifacts/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
