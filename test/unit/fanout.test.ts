import { describe, expect, it, vi } from 'vitest';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemoryEventLedger } from '../../functions/adapters/memory/event-ledger.ts';
import { MemoryHistoryStore } from '../../functions/adapters/memory/history-store.ts';
import { MemoryDeadLetterSink, MemoryTaskQueue } from '../../functions/adapters/memory/queues.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { Delivery } from '../../functions/domain/delivery.ts';
import { Fanout, RetryLaterError } from '../../functions/domain/fanout.ts';
import type { JobUpdateDetail } from '../../functions/domain/messages.ts';
import { silentLog, type ConnectionGateway, type PostOutcome } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics, deferred, flush, recordingSleep } from './domain-fakes.ts';

const BASE = Date.UTC(2030, 0, 1, 10, 0, 0);
/** The worker timestamp `n` seconds after BASE. */
const T = (n: number): string => new Date(BASE + n * 1000).toISOString();

function jobEvent(id: string, detail: Partial<JobUpdateDetail> & Record<string, unknown> = {}): string {
  return JSON.stringify({
    id,
    'detail-type': 'job.update',
    source: 'realtime.workers',
    time: T(0),
    detail: { jobId: 'J1', userId: 'alice', status: 'running', progress: 10, message: 'Working', timestamp: T(1), ...detail },
  });
}

function notificationEvent(id: string, detail: Record<string, unknown>, time = T(0)): string {
  return JSON.stringify({ id, 'detail-type': 'user.notification', source: 'realtime.workers', time, detail });
}

function setup(options: { pageSize?: number; wrapGateway?: (gateway: MemoryConnectionGateway) => ConnectionGateway } = {}) {
  const clock = new FakeClock(BASE + 60_000);
  const channels = new MemoryChannelStore({ clock });
  const history = new MemoryHistoryStore({ clock });
  const ledger = new MemoryEventLedger({ clock });
  const subscriptions = new MemorySubscriptionStore({ clock });
  const connections = new MemoryConnectionStore({ clock });
  const gateway = new MemoryConnectionGateway();
  const tasks = new MemoryTaskQueue();
  const deadLetters = new MemoryDeadLetterSink();
  const metrics = new RecordingMetrics();
  const { sleep } = recordingSleep();
  const delivery = new Delivery({
    gateway: options.wrapGateway ? options.wrapGateway(gateway) : gateway,
    subscriptions,
    connections,
    clock,
    log: silentLog,
    metrics,
    sleep,
    random: () => 0.5,
  });
  const fanout = new Fanout(
    { channels, history, ledger, subscriptions, delivery, tasks, deadLetters, clock, log: silentLog, metrics },
    options.pageSize === undefined ? {} : { pageSize: options.pageSize },
  );

  /** An open connection of `userId` subscribed to `channel` (added to the store directly). */
  const subscribe = async (connectionId: string, channel: string, userId: string): Promise<void> => {
    gateway.open(connectionId);
    await subscriptions.add({ connectionId, channel, userId, subscribedAt: clock.now(), expiresAt: clock.inSeconds(3600) }, 100);
  };

  /** Processes queued page tasks, as other invocations would, until the queue is empty. */
  const drainTasks = async (): Promise<number> => {
    let processed = 0;
    for (let batch = tasks.drain(); batch.length > 0; batch = tasks.drain()) {
      for (const task of batch) {
        await fanout.processRecord(JSON.stringify(task));
        processed++;
      }
    }
    return processed;
  };

  const offsetsOf = (connectionId: string): unknown[] =>
    gateway.received(connectionId).map((m) => (m as { offset?: unknown }).offset);

  return { clock, channels, history, ledger, subscriptions, gateway, tasks, deadLetters, metrics, fanout, subscribe, drainTasks, offsetsOf };
}

/** Wraps the memory gateway: the first post waits for `release`; every post is recorded in order. */
function slowFirstPost(gateway: MemoryConnectionGateway) {
  const release = deferred();
  const posted: { connectionId: string; offset: number }[] = [];
  let first = true;
  const wrapped: ConnectionGateway = {
    async post(connectionId: string, payload: string): Promise<PostOutcome> {
      if (first) {
        first = false;
        await release.promise;
      }
      posted.push({ connectionId, offset: (JSON.parse(payload) as { offset: number }).offset });
      return gateway.post(connectionId, payload);
    },
    disconnect: (connectionId: string) => gateway.disconnect(connectionId),
  };
  return { wrapped, release, posted };
}

describe('Fanout', () => {
  describe('job updates', () => {
    it('delivers an applied update to the owner\'s subscribers without the userId', async () => {
      // Prepare
      const { fanout, subscribe, gateway, metrics } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      await subscribe('c2', 'jobs.J1', 'alice');
      // Act
      await fanout.processRecord(jobEvent('evt-1', { status: 'running', progress: 40, message: 'Rendering slide 4', timestamp: T(1) }));
      // Assess
      const expected = {
        event: 'job:update',
        channel: 'jobs.J1',
        offset: 1,
        data: { type: 'job.update', jobId: 'J1', status: 'running', progress: 40, message: 'Rendering slide 4', timestamp: T(1) },
      };
      expect(gateway.received('c1')).toStrictEqual([expected]);
      expect(gateway.received('c2')).toStrictEqual([expected]);
      expect(metrics.total('EventsProcessed')).toBe(1);
      expect(metrics.total('MessagesDelivered')).toBe(2);
    });

    it('carries the error of a failed job', async () => {
      const { fanout, subscribe, gateway } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      await fanout.processRecord(jobEvent('evt-1', { status: 'failed', progress: undefined, message: undefined, error: { code: 'OOM', message: 'Out of memory' } }));
      expect(gateway.received('c1')).toMatchObject([{ data: { status: 'failed', error: { code: 'OOM', message: 'Out of memory' } } }]);
    });

    it('gives consecutive offsets 1, 2, 3', async () => {
      const { fanout, subscribe, offsetsOf } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      for (let i = 1; i <= 3; i++) await fanout.processRecord(jobEvent(`evt-${i}`, { progress: i * 10, timestamp: T(i) }));
      expect(offsetsOf('c1')).toStrictEqual([1, 2, 3]);
    });

    it('delivers nothing to a non-owner who subscribed before the first event', async () => {
      // Prepare: bob subscribed while the job had no owner yet.
      const { fanout, subscribe, gateway } = setup();
      await subscribe('c-bob', 'jobs.J1', 'bob');
      await subscribe('c-alice', 'jobs.J1', 'alice');
      // Act
      await fanout.processRecord(jobEvent('evt-1'));
      await fanout.processRecord(jobEvent('evt-2', { timestamp: T(2) }));
      // Assess
      expect(gateway.received('c-bob')).toStrictEqual([]);
      expect(gateway.received('c-alice')).toHaveLength(2);
    });

    it('delivers the same event id only once', async () => {
      // Prepare
      const { fanout, subscribe, offsetsOf, metrics, channels } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      // Act
      await fanout.processRecord(jobEvent('evt-1'));
      await fanout.processRecord(jobEvent('evt-1'));
      // Assess
      expect(offsetsOf('c1')).toStrictEqual([1]);
      expect(metrics.total('EventsDuplicate')).toBe(1);
      expect((await channels.getJob('J1'))?.offset).toBe(1);
    });

    it('drops an older update without delivering it or regressing the state', async () => {
      // Prepare
      const { fanout, subscribe, offsetsOf, metrics, channels } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      await fanout.processRecord(jobEvent('evt-new', { progress: 80, timestamp: T(5) }));
      // Act
      await fanout.processRecord(jobEvent('evt-old', { progress: 20, timestamp: T(3) }));
      // Assess
      expect(offsetsOf('c1')).toStrictEqual([1]);
      expect(metrics.total('EventsStale')).toBe(1);
      expect(await channels.getJob('J1')).toMatchObject({ progress: 80, timestamp: T(5), offset: 1, lastEventId: 'evt-new' });
    });

    it('applies nothing after a terminal status', async () => {
      // Prepare
      const { fanout, subscribe, gateway, metrics, channels } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      await fanout.processRecord(jobEvent('evt-1', { status: 'completed', progress: 100, timestamp: T(1) }));
      // Act
      await fanout.processRecord(jobEvent('evt-2', { status: 'running', progress: 50, timestamp: T(2) }));
      await fanout.processRecord(jobEvent('evt-3', { status: 'failed', timestamp: T(3) }));
      // Assess
      expect(gateway.received('c1')).toMatchObject([{ offset: 1, data: { status: 'completed' } }]);
      expect(gateway.received('c1')).toHaveLength(1);
      expect(metrics.total('EventsStale')).toBe(2);
      expect(await channels.getJob('J1')).toMatchObject({ status: 'completed', offset: 1 });
    });

    it('orders by sequence instead of timestamp when both carry one', async () => {
      // Prepare
      const { fanout, subscribe, gateway } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      await fanout.processRecord(jobEvent('evt-a', { sequence: 2, progress: 20, timestamp: T(5) }));
      // Act: a higher sequence with an older timestamp, then a lower sequence with a newer one.
      await fanout.processRecord(jobEvent('evt-b', { sequence: 3, progress: 30, timestamp: T(1) }));
      await fanout.processRecord(jobEvent('evt-c', { sequence: 1, progress: 10, timestamp: T(9) }));
      // Assess
      expect(gateway.received('c1')).toMatchObject([
        { offset: 1, data: { progress: 20 } },
        { offset: 2, data: { progress: 30 } },
      ]);
      expect(gateway.received('c1')).toHaveLength(2);
    });

    it('rejects an event naming another user than the owner', async () => {
      // Prepare
      const { fanout, subscribe, gateway, metrics, channels } = setup();
      await subscribe('c-alice', 'jobs.J1', 'alice');
      await subscribe('c-bob', 'jobs.J1', 'bob');
      await fanout.processRecord(jobEvent('evt-1', { userId: 'alice', progress: 10 }));
      // Act
      await fanout.processRecord(jobEvent('evt-2', { userId: 'bob', progress: 99, timestamp: T(2) }));
      // Assess
      expect(metrics.total('EventsRejected')).toBe(1);
      expect(gateway.received('c-alice')).toHaveLength(1);
      expect(gateway.received('c-bob')).toStrictEqual([]);
      expect(await channels.getJob('J1')).toMatchObject({ userId: 'alice', progress: 10, offset: 1 });
    });

    it('keeps every applied message in history, and nothing else', async () => {
      // Prepare
      const { fanout, subscribe, gateway, history } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      // Act
      await fanout.processRecord(jobEvent('evt-1', { timestamp: T(1) }));
      await fanout.processRecord(jobEvent('evt-2', { timestamp: T(2) }));
      await fanout.processRecord(jobEvent('evt-stale', { timestamp: T(0) }));
      await fanout.processRecord(jobEvent('evt-3', { timestamp: T(3), status: 'completed' }));
      // Assess
      expect(await history.readAfter('jobs.J1', 0, 100)).toStrictEqual(gateway.received('c1'));
      expect(await history.readAfter('jobs.J1', 0, 100)).toHaveLength(3);
    });

    it('keeps history for a job nobody is subscribed to', async () => {
      const { fanout, history } = setup();
      await fanout.processRecord(jobEvent('evt-1'));
      expect(await history.readAfter('jobs.J1', 0, 10)).toMatchObject([{ event: 'job:update', offset: 1 }]);
    });

    it('records the delivery latency from the worker\'s timestamp', async () => {
      const { fanout, subscribe, metrics, clock } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      await fanout.processRecord(jobEvent('evt-1', { timestamp: T(1) }));
      expect(metrics.timings).toStrictEqual([{ name: 'DeliveryLatency', ms: clock.now() - (BASE + 1000) }]);
    });
  });

  describe('notifications', () => {
    it('delivers a notification to the user\'s subscribers with the detail as data', async () => {
      // Prepare
      const { fanout, subscribe, gateway } = setup();
      await subscribe('c1', 'user.alice', 'alice');
      const detail = { userId: 'alice', type: 'comment.mention', title: 'Bob mentioned you', timestamp: T(1), link: { docId: 'D1' } };
      // Act
      await fanout.processRecord(notificationEvent('n-1', detail));
      // Assess
      expect(gateway.received('c1')).toStrictEqual([{ event: 'notification', channel: 'user.alice', offset: 1, data: detail }]);
    });

    it('gives consecutive offsets per user channel', async () => {
      const { fanout, subscribe, offsetsOf } = setup();
      await subscribe('c-alice', 'user.alice', 'alice');
      await subscribe('c-bob', 'user.bob', 'bob');
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }));
      await fanout.processRecord(notificationEvent('n-2', { userId: 'bob' }));
      await fanout.processRecord(notificationEvent('n-3', { userId: 'alice' }));
      expect(offsetsOf('c-alice')).toStrictEqual([1, 2]);
      expect(offsetsOf('c-bob')).toStrictEqual([1]);
    });

    it('never delivers to another user\'s subscription of the channel', async () => {
      // Prepare: a subscription that should never have been stored.
      const { fanout, subscribe, gateway } = setup();
      await subscribe('c-mallory', 'user.alice', 'mallory');
      // Act
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }));
      // Assess
      expect(gateway.received('c-mallory')).toStrictEqual([]);
    });

    it('delivers the same notification id only once', async () => {
      const { fanout, subscribe, offsetsOf, metrics } = setup();
      await subscribe('c1', 'user.alice', 'alice');
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }));
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }));
      expect(offsetsOf('c1')).toStrictEqual([1]);
      expect(metrics.total('EventsDuplicate')).toBe(1);
    });

    it('measures latency from the EventBridge time when the detail has no timestamp', async () => {
      const { fanout, subscribe, metrics, clock } = setup();
      await subscribe('c1', 'user.alice', 'alice');
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }, T(2)));
      expect(metrics.timings).toStrictEqual([{ name: 'DeliveryLatency', ms: clock.now() - (BASE + 2000) }]);
    });
  });

  describe('malformed records', () => {
    const envelope = (overrides: Record<string, unknown>): string =>
      JSON.stringify({ id: 'evt-x', 'detail-type': 'job.update', source: 'realtime.workers', detail: {}, ...overrides });
    const validDetail = { jobId: 'J1', userId: 'alice', status: 'running', timestamp: T(1) };

    it.each([
      ['a body that is not JSON', '{"id":'],
      ['JSON null', 'null'],
      ['a JSON array', '[]'],
      ['an empty object', '{}'],
      ['an event without an id', JSON.stringify({ 'detail-type': 'job.update', source: 'realtime.workers', detail: validDetail })],
      ['an event with an empty id', envelope({ id: '', detail: validDetail })],
      ['an unknown detail-type', envelope({ 'detail-type': 'job.deleted', detail: validDetail })],
      ['a job.update with progress 101', envelope({ detail: { ...validDetail, progress: 101 } })],
      ['a job.update with a bad status', envelope({ detail: { ...validDetail, status: 'done' } })],
      ['a job.update without a detail', envelope({ detail: undefined })],
      ['a job.update with a bad jobId', envelope({ detail: { ...validDetail, jobId: 'J 1' } })],
      ['a user.notification without a userId', envelope({ 'detail-type': 'user.notification', detail: { type: 'x' } })],
      ['a page task without a cursor', JSON.stringify({ kind: 'fanout.page', channel: 'jobs.J1', message: { offset: 1 } })],
    ])('sends %s to the dead-letter sink with a reason and resolves', async (_label, body) => {
      // Prepare
      const { fanout, subscribe, deadLetters, gateway, metrics, channels } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      // Act
      await expect(fanout.processRecord(body)).resolves.toBeUndefined();
      // Assess
      expect(deadLetters.messages).toStrictEqual([{ body, reason: expect.stringMatching(/\S/) }]);
      expect(metrics.total('EventsMalformed')).toBe(1);
      expect(gateway.received('c1')).toStrictEqual([]);
      expect(await channels.getJob('J1')).toBeUndefined();
    });

    it('names the invalid field in the reason', async () => {
      const { fanout, deadLetters } = setup();
      await fanout.processRecord(envelope({ detail: { ...validDetail, progress: 101 } }));
      expect(deadLetters.messages[0]?.reason).toMatch(/progress/);
    });
  });

  describe('paging', () => {
    it('posts the first page and hands the rest to the queue with a cursor', async () => {
      // Prepare
      const { fanout, subscribe, gateway, tasks, metrics } = setup({ pageSize: 2 });
      const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
      for (const id of ids) await subscribe(id, 'jobs.J1', 'alice');
      // Act
      await fanout.processRecord(jobEvent('evt-1'));
      // Assess
      expect(ids.map((id) => gateway.received(id).length)).toStrictEqual([1, 1, 0, 0, 0]);
      expect(tasks.tasks).toStrictEqual([
        {
          kind: 'fanout.page',
          channel: 'jobs.J1',
          message: gateway.received('c1')[0],
          owner: 'alice',
          cursor: expect.any(String),
          publishedAt: T(1),
        },
      ]);
      expect(metrics.total('FanoutPagesEnqueued')).toBe(1);
    });

    it('delivers to every subscriber exactly once across the queued pages', async () => {
      // Prepare
      const { fanout, subscribe, gateway, drainTasks, metrics } = setup({ pageSize: 2 });
      const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
      for (const id of ids) await subscribe(id, 'jobs.J1', 'alice');
      // Act
      await fanout.processRecord(jobEvent('evt-1'));
      const pages = await drainTasks();
      // Assess
      expect(pages).toBe(2);
      for (const id of ids) expect(gateway.received(id)).toMatchObject([{ event: 'job:update', offset: 1 }]);
      expect(metrics.total('MessagesDelivered')).toBe(5);
      expect(metrics.total('FanoutPagesEnqueued')).toBe(2);
    });

    it('keeps the owner check on queued pages', async () => {
      const { fanout, subscribe, gateway, drainTasks } = setup({ pageSize: 1 });
      await subscribe('c1', 'jobs.J1', 'alice');
      await subscribe('c2', 'jobs.J1', 'bob');
      await subscribe('c3', 'jobs.J1', 'alice');
      await fanout.processRecord(jobEvent('evt-1'));
      await drainTasks();
      expect(gateway.received('c1')).toHaveLength(1);
      expect(gateway.received('c2')).toStrictEqual([]);
      expect(gateway.received('c3')).toHaveLength(1);
    });

    it('pages notifications too', async () => {
      const { fanout, subscribe, gateway, drainTasks } = setup({ pageSize: 2 });
      const ids = ['c1', 'c2', 'c3'];
      for (const id of ids) await subscribe(id, 'user.alice', 'alice');
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }));
      await drainTasks();
      for (const id of ids) expect(gateway.received(id)).toMatchObject([{ event: 'notification', offset: 1 }]);
    });
  });

  describe('retries', () => {
    it('throws RetryLaterError while another invocation holds the event', async () => {
      // Prepare
      const { fanout, subscribe, ledger, gateway, channels, clock } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      expect((await ledger.claim('evt-1', 60_000, clock.inSeconds(3600))).status).toBe('claimed');
      // Act / Assess
      await expect(fanout.processRecord(jobEvent('evt-1'))).rejects.toBeInstanceOf(RetryLaterError);
      expect(gateway.received('c1')).toStrictEqual([]);
      expect(await channels.getJob('J1')).toBeUndefined();
    });

    it('releases the claim when storage fails, so the retry delivers the event', async () => {
      // Prepare
      const { fanout, subscribe, history, offsetsOf, metrics } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      vi.spyOn(history, 'append').mockRejectedValueOnce(new Error('history unavailable'));
      // Act
      await expect(fanout.processRecord(jobEvent('evt-1'))).rejects.toThrow('history unavailable');
      expect(offsetsOf('c1')).toStrictEqual([]);
      await fanout.processRecord(jobEvent('evt-1'));
      // Assess
      expect(offsetsOf('c1')).toStrictEqual([1]);
      expect(metrics.total('EventsDuplicate')).toBe(0);
      expect(metrics.total('EventsProcessed')).toBe(1);
    });

    it('releases the claim when delivery fails, so the retry delivers the event', async () => {
      const { fanout, subscribe, subscriptions, offsetsOf } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      vi.spyOn(subscriptions, 'listByChannel').mockRejectedValueOnce(new Error('query failed'));
      await expect(fanout.processRecord(jobEvent('evt-1'))).rejects.toThrow('query failed');
      await fanout.processRecord(jobEvent('evt-1'));
      expect(offsetsOf('c1')).toStrictEqual([1]);
    });

    it('releases the claim of a notification that failed, so the retry delivers it', async () => {
      const { fanout, subscribe, history, offsetsOf } = setup();
      await subscribe('c1', 'user.alice', 'alice');
      vi.spyOn(history, 'append').mockRejectedValueOnce(new Error('history unavailable'));
      await expect(fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }))).rejects.toThrow();
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }));
      expect(offsetsOf('c1')).toStrictEqual([1]);
    });
  });

  describe('ordering', () => {
    it('delivers records of one channel in order even when the first is slower', async () => {
      // Prepare
      const slow = { current: undefined as ReturnType<typeof slowFirstPost> | undefined };
      const { fanout, subscribe, offsetsOf } = setup({
        wrapGateway: (gateway) => (slow.current = slowFirstPost(gateway)).wrapped,
      });
      await subscribe('c1', 'jobs.J1', 'alice');
      // Act: a batch, started without awaiting.
      const done = [1, 2, 3].map((i) => fanout.processRecord(jobEvent(`evt-${i}`, { progress: i * 10, timestamp: T(i) })));
      await flush();
      await flush();
      expect(offsetsOf('c1')).toStrictEqual([]);
      slow.current?.release.resolve();
      await Promise.all(done);
      // Assess
      expect(slow.current?.posted.map((p) => p.offset)).toStrictEqual([1, 2, 3]);
      expect(offsetsOf('c1')).toStrictEqual([1, 2, 3]);
    });

    it('does not hold up other channels behind a slow one', async () => {
      // Prepare
      const slow = { current: undefined as ReturnType<typeof slowFirstPost> | undefined };
      const { fanout, subscribe, gateway } = setup({
        wrapGateway: (gateway) => (slow.current = slowFirstPost(gateway)).wrapped,
      });
      await subscribe('c1', 'jobs.J1', 'alice');
      await subscribe('c2', 'jobs.J2', 'alice');
      // Act
      const first = fanout.processRecord(jobEvent('evt-1', { jobId: 'J1' }));
      await fanout.processRecord(jobEvent('evt-2', { jobId: 'J2' }));
      // Assess
      expect(gateway.received('c2')).toHaveLength(1);
      expect(gateway.received('c1')).toHaveLength(0);
      slow.current?.release.resolve();
      await first;
      expect(gateway.received('c1')).toHaveLength(1);
    });

    it('fails the later records of a channel after one fails, so the retries deliver them in order', async () => {
      // Prepare
      const { fanout, subscribe, history, offsetsOf } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      vi.spyOn(history, 'append').mockRejectedValueOnce(new Error('boom'));
      // Act: one batch, then SQS redelivers both
      const results = await Promise.allSettled([
        fanout.processRecord(jobEvent('evt-1', { timestamp: T(1) })),
        fanout.processRecord(jobEvent('evt-2', { timestamp: T(2) })),
      ]);
      await fanout.processRecord(jobEvent('evt-1', { timestamp: T(1) }));
      await fanout.processRecord(jobEvent('evt-2', { timestamp: T(2) }));
      // Assess
      expect(results.map((r) => r.status)).toStrictEqual(['rejected', 'rejected']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RetryLaterError);
      expect(offsetsOf('c1')).toStrictEqual([1, 2]);
    });

    it('publishes the offset an event already took when it is retried after a later event applied', async () => {
      // Prepare: evt-1 is applied (offset 1) but fails before it is delivered; evt-2 then applies
      const { fanout, subscribe, history, offsetsOf } = setup();
      await subscribe('c1', 'jobs.J1', 'alice');
      vi.spyOn(history, 'append').mockRejectedValueOnce(new Error('boom'));
      await expect(fanout.processRecord(jobEvent('evt-1', { timestamp: T(1) }))).rejects.toThrow('boom');
      await fanout.processRecord(jobEvent('evt-2', { timestamp: T(2) }));
      // Act
      await fanout.processRecord(jobEvent('evt-1', { timestamp: T(1) }));
      // Assess: no gap, no second offset for evt-1
      expect(offsetsOf('c1')).toStrictEqual([2, 1]);
      expect((await history.readAfter('jobs.J1', 0, 10)).map((m) => m.offset)).toStrictEqual([1, 2]);
    });

    it('gives a retried notification the offset it took the first time', async () => {
      const { fanout, subscribe, history, offsetsOf } = setup();
      await subscribe('c1', 'user.alice', 'alice');
      vi.spyOn(history, 'append').mockRejectedValueOnce(new Error('boom'));
      await expect(fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }))).rejects.toThrow('boom');
      await fanout.processRecord(notificationEvent('n-2', { userId: 'alice' }));
      await fanout.processRecord(notificationEvent('n-1', { userId: 'alice' }));
      expect(offsetsOf('c1')).toStrictEqual([2, 1]);
    });
  });
});
