/**
 * Browser test support: Debian's Chromium driven by playwright-core, one persistent context
 * (a fresh profile directory) per user, against the demo page of the local runtime.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** `pageerror: ...` (an uncaught exception in the page) and `console: ...` (console errors, failed loads). */
  errors: string[];
  close(): Promise<void>;
}

/** A headless Chromium with its own profile (launchPersistentContext: `launch()` refuses --user-data-dir). */
export async function openBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'realtime-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The page's connection badge: `{transport} · {state}`. */
export async function badge(page: Page): Promise<{ state: string; transport: string }> {
  return page.locator('#badge').evaluate((el: HTMLElement) => ({ state: el.dataset['state'] ?? '', transport: el.dataset['transport'] ?? '' }));
}

export async function waitForBadge(page: Page, state: string, transport: string, timeout = 45_000): Promise<void> {
  await page.waitForFunction(
    ([s, t]) => {
      const el = document.getElementById('badge');
      return el?.dataset['state'] === s && el.dataset['transport'] === t;
    },
    [state, transport] as const,
    { timeout },
  );
}

/** The job updates the page showed, in order: `[offset, status, progress]`. */
export async function shownUpdates(page: Page): Promise<[number, string, number][]> {
  return page.locator('#job-log li').evaluateAll((items: HTMLElement[]) =>
    items.map((li) => [Number(li.dataset['offset']), li.dataset['status'] ?? '', Number(li.dataset['progress'])] as [number, string, number]),
  );
}

/** Moves the mouse to a point of the slide given in slide units (1600 x 900). */
export async function pointAt(page: Page, x: number, y: number): Promise<void> {
  const box = await page.locator('#slide').boundingBox();
  if (!box) throw new Error('no slide');
  await page.mouse.move(box.x + (x / 1600) * box.width, box.y + (y / 900) * box.height, { steps: 4 });
}

/** The cursor of `userId` as the page shows it, in slide units, or undefined. */
export async function cursorOf(page: Page, userId: string): Promise<{ x: number; y: number; name: string; color: string } | undefined> {
  return page.evaluate((id) => {
    const el = document.querySelector<HTMLElement>(`#slide .cursor[data-user-id="${id}"]`);
    if (!el) return undefined;
    return {
      x: Number(el.dataset['x']),
      y: Number(el.dataset['y']),
      name: el.querySelector('.name')?.textContent ?? '',
      color: el.querySelector('path')?.getAttribute('fill') ?? '',
    };
  }, userId);
}
