/**
 * The demo page in a real Chromium against the local runtime: two users' cursors, a job's
 * progress to completion, the SSE fallback when WebSocket is blocked, and a runtime restart in
 * the middle of a job. A screenshot with two cursors is saved to test-artifacts/.
 */
import { mkdir } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PRESENCE_PALETTE } from '../../functions/domain/presence-types.ts';
import { startProduct, type Product } from '../e2e/support.ts';
import { cursorOf, openBrowser, pointAt, shownUpdates, waitForBadge, type Browser } from './support.ts';

const TEST_TIMEOUT_MS = 180_000;
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

let product: Product;
const browsers: Browser[] = [];

async function browser(): Promise<Browser> {
  const b = await openBrowser();
  browsers.push(b);
  return b;
}

async function signIn(b: Browser, name: string, url = product.runtime.url): Promise<void> {
  await b.page.goto(`${url}/?user=${encodeURIComponent(name)}`);
  await waitForBadge(b.page, 'open', 'websocket');
}

beforeAll(async () => {
  product = await startProduct();
}, TEST_TIMEOUT_MS);
afterEach(async () => {
  await Promise.all(browsers.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await product?.close();
});

describe('the demo page', () => {
  it(
    'shows two users each other\'s cursors as they move, with names and palette colors, and drops a cursor when its user leaves',
    async () => {
      const alice = await browser();
      const bob = await browser();
      await signIn(alice, 'Alice');
      await signIn(bob, 'Bob');
      await alice.page.waitForSelector('#members li[data-user-id="bob"]');

      await pointAt(alice.page, 400, 300);
      await expect.poll(() => cursorOf(bob.page, 'alice'), { timeout: 10_000 }).toMatchObject({ x: 400, y: 300, name: 'Alice' });
      await pointAt(alice.page, 900, 500);
      await expect.poll(() => cursorOf(bob.page, 'alice'), { timeout: 10_000 }).toMatchObject({ x: 900, y: 500 });
      await pointAt(bob.page, 1200, 700);
      await expect.poll(() => cursorOf(alice.page, 'bob'), { timeout: 10_000 }).toMatchObject({ x: 1200, y: 700, name: 'Bob' });

      const a = await cursorOf(bob.page, 'alice');
      const b = await cursorOf(alice.page, 'bob');
      expect(PRESENCE_PALETTE).toContain(a?.color);
      expect(PRESENCE_PALETTE).toContain(b?.color);
      expect(a?.color).not.toBe(b?.color);
      // A user never sees their own cursor drawn.
      expect(await cursorOf(alice.page, 'alice')).toBeUndefined();

      await bob.close();
      await expect.poll(() => cursorOf(alice.page, 'bob'), { timeout: 15_000 }).toBeUndefined();
      await alice.page.waitForSelector('#members li[data-user-id="bob"]', { state: 'detached' });
      expect(alice.errors).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'saves a screenshot of the demo with two cursors',
    async () => {
      // Two users move; a third tab, Carol's, shows both cursors.
      const carol = await browser();
      await signIn(carol, 'Carol');
      const dave = await carol.context.newPage();
      const erin = await carol.context.newPage();
      for (const [page, name] of [[dave, 'Dave'], [erin, 'Erin']] as const) {
        // The tab in front, so nothing of it is throttled as a background tab.
        await page.bringToFront();
        await page.goto(`${product.runtime.url}/?user=${name}`);
        await waitForBadge(page, 'open', 'websocket');
      }
      await dave.bringToFront();
      await pointAt(dave, 500, 350);
      await erin.bringToFront();
      await pointAt(erin, 1100, 600);
      await expect.poll(() => cursorOf(carol.page, 'dave'), { timeout: 10_000 }).toMatchObject({ x: 500, y: 350 });
      await expect.poll(() => cursorOf(carol.page, 'erin'), { timeout: 10_000 }).toMatchObject({ x: 1100, y: 600 });
      await mkdir(ARTIFACTS, { recursive: true });
      const path = new URL('demo-two-cursors.png', ARTIFACTS).pathname;
      await carol.page.bringToFront();
      await carol.page.screenshot({ path, fullPage: true });
      expect(await carol.page.locator('#slide .cursor').count()).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'fills the progress bar of a started job from 0 to 100 % and shows completed',
    async () => {
      const ann = await browser();
      await signIn(ann, 'Ann');
      const progress = ann.page.locator('#job-progress');
      // Each width the bar takes, as it takes it.
      await ann.page.evaluate(() => {
        const bar = document.getElementById('job-progress');
        const seen: string[] = [];
        (window as unknown as { widths: string[] }).widths = seen;
        if (bar) new MutationObserver(() => seen.push(bar.dataset['progress'] ?? '')).observe(bar, { attributes: true, attributeFilter: ['data-progress'] });
      });
      const jobId = await ann.page.evaluate(() => (window as unknown as { demo: { startJob(o: object): Promise<string> } }).demo.startJob({ steps: 5, intervalMs: 300 }));
      await ann.page.waitForSelector('#job-progress[data-status="completed"]', { timeout: 30_000 });
      expect(await progress.getAttribute('data-progress')).toBe('100');
      expect(await ann.page.locator('#job-percent').textContent()).toBe('100 %');
      expect(await ann.page.locator('#job-status').textContent()).toBe(`${jobId}: completed`);
      const widths = (await ann.page.evaluate(() => (window as unknown as { widths: string[] }).widths)).map(Number);
      expect(widths[0]).toBe(0);
      expect(widths.at(-1)).toBe(100);
      expect(widths).toEqual([...widths].sort((a, b) => a - b));
      // Every update the server applied, once and in order (job state never goes backwards, so
      // an update the queue delivered late is dropped by the server, never shown out of order).
      const shown = await shownUpdates(ann.page);
      expect(shown.map(([offset]) => offset)).toEqual(shown.map((_, i) => i + 1));
      expect(shown.at(-1)).toEqual([shown.length, 'completed', 100]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'falls back to SSE when the page cannot open a WebSocket, and still delivers the job',
    async () => {
      const sam = await browser();
      // A proxy that kills every WebSocket: the constructor works, the connection never opens.
      await sam.context.addInitScript(() => {
        class BlockedWebSocket extends EventTarget {
          static readonly CONNECTING = 0;
          static readonly OPEN = 1;
          static readonly CLOSING = 2;
          static readonly CLOSED = 3;
          readyState = 0;
          onopen: ((e: Event) => void) | null = null;
          onerror: ((e: Event) => void) | null = null;
          onclose: ((e: CloseEvent) => void) | null = null;
          onmessage: ((e: MessageEvent) => void) | null = null;
          constructor(readonly url: string) {
            super();
            setTimeout(() => {
              this.readyState = 3;
              this.onerror?.(new Event('error'));
              this.onclose?.(new CloseEvent('close', { code: 1006 }));
            }, 20);
          }
          send(): void {
            throw new Error('blocked');
          }
          close(): void {
            this.readyState = 3;
          }
        }
        (window as unknown as { WebSocket: unknown }).WebSocket = BlockedWebSocket;
      });
      await sam.page.goto(`${product.runtime.url}/?user=Sam`);
      await waitForBadge(sam.page, 'fallback-sse', 'sse');
      expect(await sam.page.locator('#badge').textContent()).toBe('sse · fallback-sse');

      await sam.page.evaluate(() => (window as unknown as { demo: { startJob(o: object): Promise<string> } }).demo.startJob({ steps: 4, intervalMs: 300 }));
      await sam.page.waitForSelector('#job-progress[data-status="completed"]', { timeout: 30_000 });
      const shown = await shownUpdates(sam.page);
      expect(shown.map(([offset]) => offset)).toEqual(shown.map((_, i) => i + 1));
      expect(shown.at(-1)).toEqual([shown.length, 'completed', 100]);
      expect(await sam.page.locator('#badge').getAttribute('data-transport')).toBe('sse');
    },
    TEST_TIMEOUT_MS,
  );
});
