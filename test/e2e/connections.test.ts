/**
 * Connection lifecycle: `$disconnect` cleans up; a connection that vanished without
 * `$disconnect` (best-effort on AWS) is pruned when a post answers 410 Gone; throttled posts
 * are retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from './support.ts';

let product: Product;
beforeAll(async () => {
  product = await startProduct();
});
afterAll(() => product.close());

const ids = (): string[] => product.runtime.gateway.connectionIds();
const newId = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function connectAs(userId: string) {
  const before = new Set(ids());
  const client = await product.connect(userId);
  const connectionId = ids().find((id) => !before.has(id)) as string;
  return { client, connectionId };
}

async function subscribersOf(channel: string): Promise<string[]> {
  const page = await product.stores.subscriptions.listByChannel(channel, { limit: 100 });
  return page.items.map((s) => s.connectionId);
}

describe('connection lifecycle', () => {
  it('removes the connection and all its subscriptions on disconnect', async () => {
    // Prepare
    const jobId = newId('job');
    const { client, connectionId } = await connectAs('alice');
    await client.subscribe(`jobs.${jobId}`);
    await client.subscribe('user.alice');
    expect(await product.stores.subscriptions.listByConnection(connectionId)).toHaveLength(2);
    const disconnected = new Promise<void>((resolve) =>
      product.runtime.gateway.on('disconnect', (e: { connectionId: string }) => e.connectionId === connectionId && resolve()),
    );
    // Act
    await client.close();
    await disconnected;
    // Assess
    expect(await product.stores.connections.get(connectionId)).toBeUndefined();
    expect(await product.stores.subscriptions.listByConnection(connectionId)).toEqual([]);
    expect(await subscribersOf(`jobs.${jobId}`)).toEqual([]);
  });

  it('prunes a connection that vanished without $disconnect when a post answers 410', async () => {
    // Prepare: two subscribers; one socket disappears without API Gateway running $disconnect
    const jobId = newId('job');
    const kept = await connectAs('alice');
    const lost = await connectAs('alice');
    await kept.client.subscribe(`jobs.${jobId}`);
    await lost.client.subscribe(`jobs.${jobId}`);
    product.runtime.gateway.dropWithoutDisconnect(lost.connectionId);
    expect(await subscribersOf(`jobs.${jobId}`)).toHaveLength(2);
    const goneBefore = product.runtime.management.stats.gone;
    // Act
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 1 });
    await kept.client.waitFor((m) => m.event === 'job:update');
    await product.settled();
    // Assess
    expect(product.runtime.management.stats.gone - goneBefore).toBe(1);
    expect(await subscribersOf(`jobs.${jobId}`)).toEqual([kept.connectionId]);
    expect(await product.stores.connections.get(lost.connectionId)).toBeUndefined();
    expect(await product.stores.subscriptions.listByConnection(lost.connectionId)).toEqual([]);
  });

  it('retries a throttled post with backoff and still delivers', async () => {
    // Prepare: the management API answers 429 to the first two posts to this connection
    const jobId = newId('job');
    const { client, connectionId } = await connectAs('alice');
    await client.subscribe(`jobs.${jobId}`);
    const throttledBefore = product.runtime.management.stats.throttled;
    product.runtime.management.injectFaults((id, attempt, operation) =>
      id === connectionId && operation === 'post' && attempt <= 2 ? { status: 429, errorType: 'LimitExceededException' } : undefined,
    );
    try {
      // Act
      await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 2 });
      const update = await client.waitFor((m) => m.event === 'job:update');
      // Assess
      expect(update).toMatchObject({ offset: 1, data: { progress: 2 } });
      expect(product.runtime.management.stats.throttled - throttledBefore).toBe(2);
    } finally {
      product.runtime.management.injectFaults(undefined);
    }
  });
});
