/**
 * The seed's load case: 1,000 concurrent connections, each subscribed to its own job, all
 * receive their update. Timing is measured by `npm run bench`, not asserted here.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product, type TestClient } from './support.ts';

const CONNECTIONS = 1000;
let product: Product;
beforeAll(async () => {
  // 1,000 users would come from as many addresses; here they all come from 127.0.0.1.
  product = await startProduct({ env: { RATE_LIMIT_CONNECTIONS_PER_IP: '100000' } });
});
afterAll(() => product.close(), 60_000);

describe('load', () => {
  it('delivers to 1,000 concurrent connections, each on its own job', { timeout: 240_000 }, async () => {
    // Prepare: 1,000 users, one connection and one job each (connected in waves of 100)
    const clients: TestClient[] = [];
    for (let wave = 0; wave < CONNECTIONS / 100; wave++) {
      clients.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => product.connect(`load-user-${wave * 100 + i}`)))));
    }
    expect(product.runtime.gateway.connectionCount).toBe(CONNECTIONS);
    await Promise.all(clients.map((c, i) => c.subscribe(`jobs.load-job-${i}`)));

    // Act: workers publish one update per job, 10 entries per PutEvents call
    const timestamp = new Date().toISOString();
    for (let start = 0; start < CONNECTIONS; start += 10) {
      const entries = Array.from({ length: 10 }, (_, k) => ({
        EventBusName: 'realtime',
        Source: 'realtime.workers',
        DetailType: 'job.update',
        Detail: JSON.stringify({ jobId: `load-job-${start + k}`, userId: `load-user-${start + k}`, status: 'running', progress: 50, timestamp }),
      }));
      const result = await product.events.send(new PutEventsCommand({ Entries: entries }));
      expect(result.FailedEntryCount).toBe(0);
    }

    // Assess: every client gets exactly its own update
    const updates = await Promise.all(clients.map((c) => c.waitFor((m) => m.event === 'job:update', 180_000)));
    updates.forEach((update, i) => expect(update).toMatchObject({ channel: `jobs.load-job-${i}`, offset: 1, data: { progress: 50 } }));
    await product.settled();
    expect(clients.every((c) => c.messages.filter((m) => m.event === 'job:update').length === 1)).toBe(true);
  });
});
