/**
 * Job updates end to end: a worker publishes through EventBridge, the fan-out delivers over
 * WebSocket, through the local runtime and the real handlers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { at, startProduct, type Product } from './support.ts';

let product: Product;
beforeAll(async () => {
  product = await startProduct();
});
afterAll(() => product.close());

let n = 0;
const newJob = (): string => `job-${++n}-${Date.now().toString(36)}`;

describe('job updates', () => {
  it('acks the subscription, sends the current state, then every update in order with increasing offsets', async () => {
    // Prepare: the job already has a state
    const jobId = newJob();
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'queued', timestamp: at(1) });
    await product.settled();
    const alice = await product.connect('alice');

    // Act
    const ack = await alice.request({ action: 'subscribe', channel: `jobs.${jobId}` });
    const state = await alice.waitFor((m) => m.event === 'job:update');
    // One at a time, as a worker does: two batches in flight at once may apply in either order
    // (the older is then dropped as stale, which another test covers).
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 10, message: 'Outlining', timestamp: at(2) });
    await product.settled();
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 60, message: 'Rendering slide 4', timestamp: at(3) });
    await product.settled();
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'completed', progress: 100, timestamp: at(4) });
    await alice.waitFor((m) => m.event === 'job:update' && m.data.status === 'completed');

    // Assess
    expect(ack).toMatchObject({ event: 'subscribed', channel: `jobs.${jobId}` });
    expect(alice.messages.indexOf(ack)).toBeLessThan(alice.messages.indexOf(state));
    expect(state).toEqual({
      event: 'job:update',
      channel: `jobs.${jobId}`,
      offset: 1,
      data: { type: 'job.update', jobId, status: 'queued', timestamp: at(1) },
    });
    const updates = alice.channelMessages(`jobs.${jobId}`);
    expect(updates.map((m) => m.offset)).toEqual([1, 2, 3, 4]);
    expect(updates.map((m) => m.event === 'job:update' && [m.data.status, m.data.progress])).toEqual([
      ['queued', undefined],
      ['running', 10],
      ['running', 60],
      ['completed', 100],
    ]);
    expect(updates[2]).toMatchObject({ data: { message: 'Rendering slide 4', timestamp: at(3) } });
  });

  it('accepts a subscription made before the job exists and delivers its first update', async () => {
    const jobId = newJob();
    const alice = await product.connect('alice');
    await alice.subscribe(`jobs.${jobId}`);
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'queued' });
    const first = await alice.waitFor((m) => m.event === 'job:update');
    expect(first).toMatchObject({ offset: 1, data: { jobId, status: 'queued' } });
  });

  it("refuses another user's job", async () => {
    const jobId = newJob();
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 5 });
    await product.settled();
    const mallory = await product.connect('mallory');
    const reply = await mallory.request({ action: 'subscribe', channel: `jobs.${jobId}` });
    expect(reply).toMatchObject({ event: 'error', code: 'PERMISSION_DENIED', channel: `jobs.${jobId}` });
    expect(mallory.channelMessages(`jobs.${jobId}`)).toEqual([]);
  });

  it("never delivers another user's job to a subscription made before its first event", async () => {
    // Prepare: mallory subscribes to a job id that has no state yet (accepted), alice owns it
    const jobId = newJob();
    const mallory = await product.connect('mallory');
    await mallory.subscribe(`jobs.${jobId}`);
    const alice = await product.connect('alice');
    await alice.subscribe(`jobs.${jobId}`);
    // Act
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 30 });
    await product.settled();
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'completed', progress: 100 });
    await alice.waitFor((m) => m.event === 'job:update' && m.data.status === 'completed');
    await product.settled();
    // Assess
    expect(mallory.channelMessages(`jobs.${jobId}`)).toEqual([]);
    // and a new subscription of hers is now refused
    expect(await mallory.request({ action: 'subscribe', channel: `jobs.${jobId}` })).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('reaches the client once when SQS delivers the same event twice', async () => {
    // Prepare
    const jobId = newJob();
    const alice = await product.connect('alice');
    await alice.subscribe(`jobs.${jobId}`);
    const event = JSON.stringify({
      version: '0',
      id: `evt-${jobId}`,
      'detail-type': 'job.update',
      source: 'realtime.workers',
      account: '000000000000',
      time: '2026-11-26T10:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: { jobId, userId: 'alice', status: 'running', progress: 50, timestamp: at(5) },
    });
    // Act: the same EventBridge event arrives twice (SQS is at-least-once)
    product.runtime.queues.events.send(event);
    await product.settled();
    product.runtime.queues.events.send(event);
    await product.settled();
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'completed', timestamp: at(6) });
    await alice.waitFor((m) => m.event === 'job:update' && m.data.status === 'completed');
    // Assess
    expect(alice.channelMessages(`jobs.${jobId}`).map((m) => m.offset)).toEqual([1, 2]);
  });

  it('drops a late stale update without regressing the state', async () => {
    // Prepare
    const jobId = newJob();
    const alice = await product.connect('alice');
    await alice.subscribe(`jobs.${jobId}`);
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 70, timestamp: at(20) });
    await alice.waitFor((m) => m.event === 'job:update');
    // Act: an update stamped earlier arrives late, then a newer one
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'queued', progress: 0, timestamp: at(10) });
    await product.settled();
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 80, timestamp: at(21) });
    await alice.waitFor((m) => m.event === 'job:update' && m.data.progress === 80);
    // Assess: the stale one never reached anyone and the state did not go back
    expect(alice.channelMessages(`jobs.${jobId}`).map((m) => m.event === 'job:update' && [m.offset, m.data.status, m.data.progress])).toEqual([
      [1, 'running', 70],
      [2, 'running', 80],
    ]);
    const late = await product.connect('alice');
    await late.subscribe(`jobs.${jobId}`);
    expect(await late.waitFor((m) => m.event === 'job:update')).toMatchObject({ offset: 2, data: { status: 'running', progress: 80 } });
  });

  it('keeps a terminal status final', async () => {
    const jobId = newJob();
    const alice = await product.connect('alice');
    await alice.subscribe(`jobs.${jobId}`);
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'failed', error: { code: 'RENDER_FAILED', message: 'Out of credits' }, timestamp: at(30) });
    await alice.waitFor((m) => m.event === 'job:update');
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 90, timestamp: at(31) });
    await product.settled();
    expect(alice.channelMessages(`jobs.${jobId}`)).toEqual([
      {
        event: 'job:update',
        channel: `jobs.${jobId}`,
        offset: 1,
        data: { type: 'job.update', jobId, status: 'failed', error: { code: 'RENDER_FAILED', message: 'Out of credits' }, timestamp: at(30) },
      },
    ]);
  });

  it('orders by the worker sequence when one is given', async () => {
    const jobId = newJob();
    const alice = await product.connect('alice');
    await alice.subscribe(`jobs.${jobId}`);
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 20, sequence: 2, timestamp: at(40) });
    await alice.waitFor((m) => m.event === 'job:update');
    // a later timestamp, but an older sequence: stale
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 10, sequence: 1, timestamp: at(50) });
    await product.settled();
    expect(alice.channelMessages(`jobs.${jobId}`).map((m) => m.offset)).toEqual([1]);
  });

  it('parks a malformed event in the dead-letter queue, with the reason, and delivers nothing', async () => {
    const before = product.runtime.queues.dlq.size;
    product.runtime.queues.events.send(JSON.stringify({ id: 'bad-1', 'detail-type': 'job.update', source: 'x', detail: { jobId: 'J', status: 'exploded' } }));
    product.runtime.queues.events.send('not json at all');
    await product.settled();
    const parked = product.runtime.queues.dlq.messages().slice(before);
    expect(parked).toHaveLength(2);
    // Both were processed in the same batch, in parallel: their order in the DLQ is not fixed.
    expect(parked.map((m) => m.messageAttributes?.['reason']?.StringValue).sort()).toEqual([
      'body is not JSON',
      expect.stringMatching(/^invalid job.update: .*status must be one of/),
    ]);
    expect(product.runtime.queues.events.size).toBe(0);
  });
});

describe('notifications', () => {
  it('delivers user.notification events to user.{id} with consecutive offsets', async () => {
    const userId = `user${Date.now().toString(36)}`;
    const client = await product.connect(userId);
    await client.subscribe(`user.${userId}`);
    await product.publisher.publishNotification({ userId, type: 'comment.mention', title: 'Bob mentioned you' });
    await product.settled();
    await product.publisher.publishNotification({ userId, type: 'share', title: 'Deck shared' });
    await client.waitFor((m) => m.event === 'notification' && m.offset === 2);
    expect(client.channelMessages(`user.${userId}`)).toEqual([
      { event: 'notification', channel: `user.${userId}`, offset: 1, data: expect.objectContaining({ userId, type: 'comment.mention', title: 'Bob mentioned you' }) },
      { event: 'notification', channel: `user.${userId}`, offset: 2, data: expect.objectContaining({ type: 'share' }) },
    ]);
  });

  it("refuses another user's notification channel", async () => {
    const client = await product.connect('mallory');
    expect(await client.request({ action: 'subscribe', channel: 'user.alice' })).toMatchObject({ event: 'error', code: 'PERMISSION_DENIED' });
  });
});
