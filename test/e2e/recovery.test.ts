/**
 * Recovery over WebSocket: `subscribe` with `since` replays what a client missed while it was
 * away, in order, then continues live; beyond the history window it says `recovered: false`
 * and (for jobs) sends the current state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from './support.ts';

let product: Product;
beforeAll(async () => {
  // A small window, so "beyond it" takes a handful of updates.
  product = await startProduct({ env: { HISTORY_MAX_MESSAGES: '5' } });
});
afterAll(() => product.close());

let n = 0;
const newJob = (): string => `recover-${++n}-${Date.now().toString(36)}`;

async function publishProgress(jobId: string, from: number, to: number): Promise<void> {
  for (let p = from; p <= to; p++) {
    await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: p, timestamp: new Date(Date.UTC(2026, 10, 26, 10, 0, p)).toISOString() });
    // One at a time: two batches in flight may be applied in either order (and the older dropped).
    await product.settled();
  }
}

describe('recovery with since', () => {
  it('replays exactly the missed messages of a gap inside the window, in order, then continues live', async () => {
    // Prepare: the client saw offsets 1..2, went away while 3..5 were published
    const jobId = newJob();
    await publishProgress(jobId, 1, 5);
    const client = await product.connect('alice');
    // Act
    const ack = await client.request({ action: 'subscribe', channel: `jobs.${jobId}`, since: 2 });
    await client.waitFor((m) => m.event === 'job:update' && m.offset === 5);
    await publishProgress(jobId, 6, 6);
    await client.waitFor((m) => m.event === 'job:update' && m.offset === 6);
    // Assess
    expect(ack).toMatchObject({ event: 'subscribed', recovered: true });
    expect(client.channelMessages(`jobs.${jobId}`).map((m) => m.offset)).toEqual([3, 4, 5, 6]);
    expect(client.channelMessages(`jobs.${jobId}`).map((m) => m.event === 'job:update' && m.data.progress)).toEqual([3, 4, 5, 6]);
  });

  it('says recovered: true and replays nothing when nothing was missed', async () => {
    const jobId = newJob();
    await publishProgress(jobId, 1, 3);
    const client = await product.connect('alice');
    expect(await client.request({ action: 'subscribe', channel: `jobs.${jobId}`, since: 3 })).toMatchObject({ recovered: true });
    await client.request({ action: 'ping' });
    expect(client.channelMessages(`jobs.${jobId}`)).toEqual([]);
  });

  it('says recovered: false beyond the window and sends the current job state', async () => {
    // Prepare: 9 updates, the window holds 5; the client last saw offset 2
    const jobId = newJob();
    await publishProgress(jobId, 1, 9);
    const client = await product.connect('alice');
    // Act
    const ack = await client.request({ action: 'subscribe', channel: `jobs.${jobId}`, since: 2 });
    const state = await client.waitFor((m) => m.event === 'job:update');
    // Assess
    expect(ack).toMatchObject({ event: 'subscribed', recovered: false });
    expect(state).toMatchObject({ offset: 9, data: { progress: 9 } });
    expect(client.channelMessages(`jobs.${jobId}`)).toHaveLength(1);
  });

  it('says recovered: false when the client claims an offset the channel never reached', async () => {
    const jobId = newJob();
    await publishProgress(jobId, 1, 2);
    const client = await product.connect('alice');
    expect(await client.request({ action: 'subscribe', channel: `jobs.${jobId}`, since: 7 })).toMatchObject({ recovered: false });
    expect(await client.waitFor((m) => m.event === 'job:update')).toMatchObject({ offset: 2 });
  });

  it('replays notifications too', async () => {
    const userId = `rec${Date.now().toString(36)}`;
    for (let i = 1; i <= 4; i++) {
      await product.publisher.publishNotification({ userId, type: 'n', title: `#${i}` });
      await product.settled();
    }
    const client = await product.connect(userId);
    expect(await client.request({ action: 'subscribe', channel: `user.${userId}`, since: 1 })).toMatchObject({ recovered: true });
    await client.waitFor((m) => m.event === 'notification' && m.offset === 4);
    expect(client.channelMessages(`user.${userId}`).map((m) => m.offset)).toEqual([2, 3, 4]);
  });

  it("refuses since on another user's job like any subscribe", async () => {
    const jobId = newJob();
    await publishProgress(jobId, 1, 2);
    const mallory = await product.connect('mallory');
    expect(await mallory.request({ action: 'subscribe', channel: `jobs.${jobId}`, since: 0 })).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('refuses a since that is not a non-negative integer', async () => {
    const client = await product.connect('alice');
    expect(await client.request({ action: 'subscribe', channel: 'jobs.x', since: -1 })).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(await client.request({ action: 'subscribe', channel: 'jobs.x', since: 1.5 })).toMatchObject({ code: 'INVALID_MESSAGE' });
  });
});
