// Debian's Chromium driven by playwright-core (never a downloaded browser).
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** A host name the browser resolves to 127.0.0.1: a page served "from elsewhere" in tests. */
export const OWN_HOST = 'ops.example';

// Without the background-networking flags Chromium keeps calling hosts this closed
// network refuses.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // A host name that is not loopback to the page (for the tests of where the page may be
  // pointed from its URL), while every byte still goes to 127.0.0.1.
  `--host-resolver-rules=MAP ${OWN_HOST} 127.0.0.1`,
];

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/** Opens a page that records console errors and uncaught exceptions in `page.problems`. */
export async function openPage(browser, url) {
  // Dark, as on a wall screen (the app follows the system's colour scheme).
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') page.problems.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  return page;
}

/** The text of the first element on `page` with the test id `testId`. */
export const text = (page, testId) => page.getByTestId(testId).first().textContent();

/** Neither a Rust panic nor an uncaught exception on `page` so far. */
export function assertNoCrash(page) {
  const crashes = page.problems.filter((p) => p.startsWith('pageerror') || p.includes('panicked'));
  assert.deepEqual(crashes, [], 'the app neither panicked nor threw');
}

/** Whether the fleet map's centre is within `degrees` of the selected vehicle's position. */
export async function centredOnSelection(page, degrees = 0.002) {
  const [lat, lon] = (await page.getByTestId('selection-position').textContent()).split(', ').map(Number);
  const [clat, clon] = (await page.getByTestId('map-centre').textContent()).split(', ').map(Number);
  return Math.abs(lat - clat) < degrees && Math.abs(lon - clon) < degrees;
}
