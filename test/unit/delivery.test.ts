import { describe, expect, it } from 'vitest';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { Delivery, type DeliveryOptions } from '../../functions/domain/delivery.ts';
import type { ChannelMessage } from '../../functions/domain/messages.ts';
import { silentLog, type ConnectionGateway, type PostOutcome } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics, deferred, flush, recordingSleep, type Deferred } from './domain-fakes.ts';

const message: ChannelMessage = {
  event: 'job:update',
  channel: 'jobs.J1',
  offset: 1,
  data: { type: 'job.update', jobId: 'J1', status: 'running', progress: 10, timestamp: '2030-01-01T00:00:00.000Z' },
};

function setup(options: DeliveryOptions & { random?: () => number; gateway?: ConnectionGateway } = {}) {
  const clock = new FakeClock(Date.UTC(2030, 0, 1, 0, 0, 1));
  const memoryGateway = new MemoryConnectionGateway();
  const gateway = options.gateway ?? memoryGateway;
  const subscriptions = new MemorySubscriptionStore({ clock });
  const connections = new MemoryConnectionStore({ clock });
  const metrics = new RecordingMetrics();
  const { sleep, waits } = recordingSleep();
  const delivery = new Delivery(
    { gateway, subscriptions, connections, clock, log: silentLog, metrics, sleep, random: options.random ?? (() => 0.999) },
    options,
  );
  /** Opens connections on the memory gateway and returns their ids. */
  const open = (...ids: string[]): string[] => {
    for (const id of ids) memoryGateway.open(id);
    return ids;
  };
  return { clock, gateway: memoryGateway, subscriptions, connections, metrics, waits, delivery, open };
}

/** A gateway whose posts wait until the test releases them, counting how many are in flight. */
class HeldGateway implements ConnectionGateway {
  readonly pending: { connectionId: string; done: Deferred<PostOutcome> }[] = [];
  readonly posted: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  async post(connectionId: string): Promise<PostOutcome> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const done = deferred<PostOutcome>();
    this.pending.push({ connectionId, done });
    try {
      return await done.promise;
    } finally {
      this.inFlight--;
      this.posted.push(connectionId);
    }
  }

  async disconnect(): Promise<void> {}

  /** Lets every post waiting now complete. */
  releaseAll(): void {
    for (const { done } of this.pending.splice(0)) done.resolve('ok');
  }
}

describe('Delivery', () => {
  describe('deliver', () => {
    it('posts the message as JSON to every connection', async () => {
      // Prepare
      const { delivery, gateway, open, metrics } = setup();
      const ids = open('c1', 'c2', 'c3');
      // Act
      const report = await delivery.deliver(ids, message);
      // Assess
      expect(report).toStrictEqual({ delivered: 3, pruned: 0, failed: 0 });
      for (const id of ids) expect(gateway.received(id)).toStrictEqual([message]);
      expect(metrics.total('MessagesDelivered')).toBe(3);
    });

    it('does nothing for no connections', async () => {
      const { delivery, gateway, metrics } = setup();
      expect(await delivery.deliver([], message)).toStrictEqual({ delivered: 0, pruned: 0, failed: 0 });
      expect(gateway.calls).toStrictEqual([]);
      expect(metrics.counts.size).toBe(0);
    });

    it('keeps at most `concurrency` posts in flight', async () => {
      // Prepare
      const held = new HeldGateway();
      const { delivery } = setup({ gateway: held, concurrency: 3 });
      const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
      // Act
      const done = delivery.deliver(ids, message);
      await flush();
      // Assess: three start at once, and never more than three while the rest follow.
      expect(held.inFlight).toBe(3);
      while (held.posted.length < ids.length) {
        held.releaseAll();
        await flush();
        expect(held.inFlight).toBeLessThanOrEqual(3);
      }
      expect(await done).toStrictEqual({ delivered: 10, pruned: 0, failed: 0 });
      expect(held.maxInFlight).toBe(3);
      expect([...held.posted].sort()).toStrictEqual([...ids].sort());
    });

    it('starts a later post as soon as any earlier one finishes', async () => {
      // Prepare
      const held = new HeldGateway();
      const { delivery } = setup({ gateway: held, concurrency: 2 });
      const done = delivery.deliver(['a', 'b', 'c'], message);
      await flush();
      expect(held.pending.map((p) => p.connectionId)).toStrictEqual(['a', 'b']);
      // Act: only the second post completes.
      held.pending[1]?.done.resolve('ok');
      await flush();
      // Assess
      expect(held.pending.map((p) => p.connectionId)).toStrictEqual(['a', 'b', 'c']);
      held.releaseAll();
      await done;
    });

    it('defaults to 50 posts in flight', () => {
      expect(setup().delivery.concurrency).toBe(50);
    });
  });

  describe('gone connections', () => {
    it('prunes a gone connection with its subscriptions and counts it', async () => {
      // Prepare: 'gone' has a record and subscriptions but API Gateway no longer knows it.
      const { delivery, open, subscriptions, connections, clock, metrics, gateway } = setup();
      const ids = [...open('c1', 'c2'), 'gone'];
      await connections.put({ connectionId: 'gone', userId: 'alice', connectedAt: clock.now(), expiresAt: clock.inSeconds(3600) });
      for (const channel of ['jobs.J1', 'user.alice']) {
        await subscriptions.add({ connectionId: 'gone', channel, userId: 'alice', subscribedAt: clock.now(), expiresAt: clock.inSeconds(3600) }, 100);
      }
      await subscriptions.add({ connectionId: 'c1', channel: 'jobs.J1', userId: 'alice', subscribedAt: clock.now(), expiresAt: clock.inSeconds(3600) }, 100);
      // Act
      const report = await delivery.deliver(ids, message);
      // Assess
      expect(report).toStrictEqual({ delivered: 2, pruned: 1, failed: 0 });
      expect(await connections.get('gone')).toBeUndefined();
      expect(await subscriptions.listByConnection('gone')).toStrictEqual([]);
      expect((await subscriptions.listByChannel('jobs.J1', { limit: 10 })).items.map((s) => s.connectionId)).toStrictEqual(['c1']);
      expect(metrics.total('StaleConnectionsPruned')).toBe(1);
      expect(gateway.calls.filter((id) => id === 'gone')).toHaveLength(1);
    });

    it('prune removes the subscriptions and the record of a connection', async () => {
      const { delivery, subscriptions, connections, clock } = setup();
      await connections.put({ connectionId: 'c1', userId: 'alice', connectedAt: clock.now(), expiresAt: clock.inSeconds(60) });
      await subscriptions.add({ connectionId: 'c1', channel: 'user.alice', userId: 'alice', subscribedAt: clock.now(), expiresAt: clock.inSeconds(60) }, 100);
      await delivery.prune('c1');
      expect(await connections.get('c1')).toBeUndefined();
      expect(await subscriptions.listByConnection('c1')).toStrictEqual([]);
    });
  });

  describe('retries', () => {
    it('retries a throttled post with exponential backoff and full jitter, then delivers it', async () => {
      // Prepare: three throttles, random just below 1 so each wait is just below its ceiling.
      const { delivery, gateway, open, waits, metrics } = setup({ baseBackoffMs: 100, maxBackoffMs: 10_000 });
      open('c1');
      gateway.injectFaults((_id, attempt) => (attempt <= 3 ? 'throttle' : undefined));
      // Act
      const report = await delivery.deliver(['c1'], message);
      // Assess: ceilings 100, 200, 400.
      expect(report).toStrictEqual({ delivered: 1, pruned: 0, failed: 0 });
      expect(waits).toStrictEqual([99, 199, 399]);
      expect(gateway.received('c1')).toStrictEqual([message]);
      expect(metrics.total('DeliveryRetries')).toBe(3);
    });

    it('uses a base of 50 ms by default', async () => {
      const { delivery, gateway, open, waits } = setup();
      open('c1');
      gateway.injectFaults((_id, attempt) => (attempt <= 4 ? 'throttle' : undefined));
      expect(await delivery.deliver(['c1'], message)).toMatchObject({ delivered: 1 });
      expect(waits).toStrictEqual([49, 99, 199, 399]);
    });

    it('bounds every wait by maxBackoffMs', async () => {
      // Prepare
      const { delivery, gateway, open, waits } = setup({ baseBackoffMs: 100, maxBackoffMs: 250, maxAttempts: 6 });
      open('c1');
      gateway.injectFaults((_id, attempt) => (attempt <= 5 ? 'throttle' : undefined));
      // Act
      await delivery.deliver(['c1'], message);
      // Assess: ceilings 100, 200, then capped at 250.
      expect(waits).toStrictEqual([99, 199, 249, 249, 249]);
    });

    it('never waits longer than maxBackoffMs by default (2 s), however many attempts', async () => {
      const { delivery, gateway, open, waits } = setup({ maxAttempts: 12 });
      open('c1');
      gateway.injectFaults((_id, attempt) => (attempt <= 11 ? 'throttle' : undefined));
      await delivery.deliver(['c1'], message);
      expect(waits).toHaveLength(11);
      expect(Math.max(...waits)).toBe(1998);
      for (const wait of waits) expect(wait).toBeLessThan(2000);
    });

    it('draws each wait anywhere from zero up to its ceiling (full jitter)', async () => {
      const { delivery, gateway, open, waits } = setup({ random: () => 0, baseBackoffMs: 100 });
      open('c1');
      gateway.injectFaults((_id, attempt) => (attempt <= 2 ? 'throttle' : undefined));
      await delivery.deliver(['c1'], message);
      expect(waits).toStrictEqual([0, 0]);
    });

    it('retries other post errors as well', async () => {
      const { delivery, gateway, open, waits } = setup();
      open('c1');
      gateway.injectFaults((_id, attempt) => (attempt === 1 ? new Error('ECONNRESET') : undefined));
      expect(await delivery.deliver(['c1'], message)).toStrictEqual({ delivered: 1, pruned: 0, failed: 0 });
      expect(waits).toHaveLength(1);
    });

    it('counts a post that fails maxAttempts times as failed and still delivers the others', async () => {
      // Prepare
      const { delivery, gateway, open, waits, metrics } = setup({ maxAttempts: 3 });
      open('c1', 'bad', 'c3');
      gateway.injectFaults((id) => (id === 'bad' ? 'throttle' : undefined));
      // Act
      const report = await delivery.deliver(['c1', 'bad', 'c3'], message);
      // Assess
      expect(report).toStrictEqual({ delivered: 2, pruned: 0, failed: 1 });
      expect(gateway.calls.filter((id) => id === 'bad')).toHaveLength(3);
      expect(waits).toHaveLength(2);
      expect(gateway.received('c1')).toStrictEqual([message]);
      expect(gateway.received('c3')).toStrictEqual([message]);
      expect(gateway.received('bad')).toStrictEqual([]);
      expect(metrics.total('DeliveryFailures')).toBe(1);
      expect(metrics.total('DeliveryRetries')).toBe(2);
      expect(metrics.total('MessagesDelivered')).toBe(2);
    });

    it('tries 5 times by default', async () => {
      const { delivery, gateway, open } = setup();
      open('c1');
      gateway.injectFaults(() => new Error('500'));
      expect(await delivery.deliver(['c1'], message)).toStrictEqual({ delivered: 0, pruned: 0, failed: 1 });
      expect(gateway.calls).toHaveLength(5);
    });
  });

  describe('latency', () => {
    it('records DeliveryLatency as now minus publishedAt for each delivered post', async () => {
      // Prepare
      const { delivery, open, clock, metrics } = setup();
      const ids = open('c1', 'c2');
      const publishedAt = new Date(clock.now() - 1234).toISOString();
      // Act
      await delivery.deliver(ids, message, publishedAt);
      // Assess
      expect(metrics.timings).toStrictEqual([
        { name: 'DeliveryLatency', ms: 1234 },
        { name: 'DeliveryLatency', ms: 1234 },
      ]);
    });

    it('records no latency without publishedAt', async () => {
      const { delivery, open, metrics } = setup();
      await delivery.deliver(open('c1'), message);
      expect(metrics.timings).toStrictEqual([]);
    });

    it('records no latency for pruned or failed posts', async () => {
      const { delivery, open, gateway, clock, metrics } = setup({ maxAttempts: 1 });
      open('bad');
      gateway.injectFaults((id) => (id === 'bad' ? new Error('500') : undefined));
      await delivery.deliver(['gone', 'bad'], message, new Date(clock.now() - 10).toISOString());
      expect(metrics.timings).toStrictEqual([]);
    });
  });
});
