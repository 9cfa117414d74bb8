/**
 * The fan-out through the real queue: big channels are split into pages handled by other
 * invocations, and a transient failure is reported as a partial batch failure, redelivered
 * by SQS and still reaches the client once and in order.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoChannelStore } from '../../functions/adapters/dynamodb/channel-store.ts';
import { startProduct, type Product, type TestClient } from './support.ts';

let product: Product;
beforeAll(async () => {
  // Tiny pages, so a handful of subscribers already spans several invocations.
  product = await startProduct({ env: { FANOUT_PAGE_SIZE: '2' } });
});
afterAll(() => product.close());

describe('fan-out', () => {
  it('spreads a channel over several invocations, one page each, and reaches every subscriber once', async () => {
    // Prepare: 7 connections of one user on one job = 4 pages of 2
    const jobId = `pages-${Date.now().toString(36)}`;
    const clients: TestClient[] = [];
    for (let i = 0; i < 7; i++) clients.push(await product.connect('alice'));
    await Promise.all(clients.map((c) => c.subscribe(`jobs.${jobId}`)));
    const batchesBefore = product.runtime.eventSource.stats.records;
    // Act
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 33 });
    await Promise.all(clients.map((c) => c.waitFor((m) => m.event === 'job:update')));
    await product.settled();
    // Assess: the event plus 3 page tasks went through the queue
    expect(product.runtime.eventSource.stats.records - batchesBefore).toBe(4);
    for (const c of clients) expect(c.channelMessages(`jobs.${jobId}`).map((m) => m.offset)).toEqual([1]);
  });

  it('reports a transient failure as a batch item failure; SQS redelivers it and the client gets it once, in order', async () => {
    // Prepare: DynamoDB throttles the first attempt to apply this job's first update
    const jobId = `flaky-${Date.now().toString(36)}`;
    const alice = await product.connect('alice');
    await alice.subscribe(`jobs.${jobId}`);
    const throttling = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException' });
    const apply = DynamoChannelStore.prototype.applyJobUpdate;
    const spy = vi.spyOn(DynamoChannelStore.prototype, 'applyJobUpdate').mockImplementation(async function (this: DynamoChannelStore, update, ...rest) {
      if (update.jobId === jobId && update.progress === 10 && spy.mock.calls.filter(([u]) => u.jobId === jobId && u.progress === 10).length === 1) {
        throw throttling;
      }
      return apply.call(this, update, ...rest);
    });
    const failedBefore = product.runtime.eventSource.stats.failed;
    try {
      // Act: two updates of the job in one PutEvents call (same batch)
      const entry = (progress: number, second: number) => ({
        EventBusName: 'realtime',
        Source: 'realtime.workers',
        DetailType: 'job.update',
        Detail: JSON.stringify({ jobId, userId: 'alice', status: 'running', progress, timestamp: `2026-11-26T10:00:0${second}.000Z` }),
      });
      await product.events.send(new PutEventsCommand({ Entries: [entry(10, 1), entry(20, 2)] }));
      await alice.waitFor((m) => m.event === 'job:update' && m.data.progress === 20);
      await product.settled();
    } finally {
      spy.mockRestore();
    }
    // Assess
    expect(product.runtime.eventSource.stats.failed - failedBefore).toBeGreaterThanOrEqual(1);
    const received = alice.channelMessages(`jobs.${jobId}`).map((m) => m.event === 'job:update' && [m.offset, m.data.progress]);
    expect(received).toEqual([
      [1, 10],
      [2, 20],
    ]);
    expect(product.runtime.queues.dlq.size).toBe(0);
  });
});
