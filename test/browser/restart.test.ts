/**
 * The local runtime restarted in the middle of a job: the page reconnects and shows every
 * update it missed, in order, none twice.
 *
 * DynamoDB runs apart (as it does on AWS), so channel offsets and history outlive the
 * runtime. Updates are published after the restart while the page still cannot reach the
 * runtime (its WebSocket and SSE requests are held back by the test), so the page can only
 * get them by recovering them from history with its last offsets.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tableDefinition, TTL_ATTRIBUTE } from '../../functions/adapters/dynamodb/table.ts';
import { startLocalDynamo, type LocalDynamo } from '../../local/dynamodb.ts';
import { createLog } from '../../local/log.ts';
import { startProduct, type Product } from '../e2e/support.ts';
import { openBrowser, shownUpdates, waitForBadge, type Browser } from './support.ts';

const TEST_TIMEOUT_MS = 180_000;
let dynamo: LocalDynamo | undefined;
let product: Product | undefined;
let chromium: Browser | undefined;

afterAll(async () => {
  await chromium?.close();
  await product?.close();
  await dynamo?.close();
});

/** The events queue drained; when it does not, fail with what the queue and event source say. */
async function settledWithin(p: Product, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const queue = p.runtime.queues.events.attributes();
      reject(new Error(`the events queue did not drain within ${String(ms)} ms: ${JSON.stringify({ visible: queue['ApproximateNumberOfMessages'], inFlight: queue['ApproximateNumberOfMessagesNotVisible'], eventSource: p.runtime.eventSource.stats })}`));
    }, ms);
  });
  try {
    await Promise.race([p.settled(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a runtime restart mid-job', () => {
  it(
    'leaves the page with every update it missed, in order, none twice',
    async () => {
      dynamo = await startLocalDynamo({
        tableName: 'realtime',
        tableDefinition: tableDefinition('realtime'),
        ttlAttribute: TTL_ATTRIBUTE,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        log: createLog('silent'),
      });
      const runtimeOptions = { dynamodb: { endpoint: dynamo.endpoint } };
      product = await startProduct(runtimeOptions);
      const port = product.runtime.port;
      const jobId = `restart-${Date.now().toString(36)}`;
      let step = 0;
      const publishNext = async (p: Product, status: 'running' | 'completed' = 'running'): Promise<void> => {
        step++;
        await p.publisher.publishJobUpdate({ jobId, userId: 'rita', status, progress: status === 'completed' ? 100 : step * 10, sequence: step });
        await settledWithin(p, 30_000);
      };

      chromium = await openBrowser();
      const { page } = chromium;
      // The test decides when the page may reach the runtime again.
      let blocked = false;
      await page.routeWebSocket(/.*/, (ws) => {
        if (blocked) void ws.close({ code: 1006, reason: 'blocked by the test' }).catch(() => {});
        else ws.connectToServer();
      });
      await page.route('**/sse?**', (route) => (blocked ? route.abort('connectionrefused') : route.continue()));

      await page.goto(`${product.runtime.url}/?user=Rita`);
      await waitForBadge(page, 'open', 'websocket');
      await page.evaluate((id) => new Promise<void>((resolve) => (window as unknown as { demo: { watchJob(id: string, cb: () => void): void } }).demo.watchJob(id, resolve)), jobId);
      for (let i = 0; i < 3; i++) await publishNext(product);
      await expect.poll(() => shownUpdates(page), { timeout: 10_000 }).toHaveLength(3);

      // The runtime goes away; the page notices and keeps trying.
      blocked = true;
      await product.close();
      product = undefined;
      await page.waitForFunction(() => document.getElementById('badge')?.dataset['state'] !== 'open', undefined, { timeout: 15_000 });

      // It comes back on the same port with the same data, and the job goes on while the page
      // is still cut off.
      product = await startProduct({ ...runtimeOptions, port });
      const restarted = product;
      for (let i = 0; i < 3; i++) await publishNext(restarted);
      expect(await shownUpdates(page)).toHaveLength(3);

      // The page reaches the runtime again: it catches up on what it missed, then live updates follow.
      blocked = false;
      await expect.poll(() => shownUpdates(page), { timeout: 60_000, interval: 250 }).toHaveLength(6);
      for (let i = 0; i < 3; i++) await publishNext(restarted);
      await publishNext(restarted, 'completed');
      await page.waitForSelector('#job-progress[data-status="completed"]', { timeout: 30_000 });

      expect(await shownUpdates(page)).toEqual([
        [1, 'running', 10],
        [2, 'running', 20],
        [3, 'running', 30],
        [4, 'running', 40],
        [5, 'running', 50],
        [6, 'running', 60],
        [7, 'running', 70],
        [8, 'running', 80],
        [9, 'running', 90],
        [10, 'completed', 100],
      ]);
      // Requests failed while the runtime was down or starting (refused, 503); the page's own
      // code never threw.
      expect(chromium.errors.filter((e) => e.startsWith('pageerror:'))).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
