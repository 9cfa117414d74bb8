/**
 * What clients send: bad input gets a coded error and the connection stays usable; limits are
 * API Gateway's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product, type TestClient } from './support.ts';

let product: Product;
let client: TestClient;
beforeAll(async () => {
  product = await startProduct();
  client = await product.connect('alice');
});
afterAll(() => product.close());

const errorFor = (requestId: string) => client.waitFor((m) => m.event === 'error' && m.requestId === requestId);

describe('client messages', () => {
  it('answers ping with pong', async () => {
    expect(await client.request({ action: 'ping' })).toMatchObject({ event: 'pong', timestamp: expect.any(String) });
  });

  it('refuses non-JSON with INVALID_MESSAGE and keeps the connection usable', async () => {
    client.send('this is {not json');
    const error = await client.waitFor((m) => m.event === 'error' && m.message.includes('not valid JSON'));
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(error).not.toHaveProperty('requestId');
    expect(await client.request({ action: 'ping' })).toMatchObject({ event: 'pong' });
  });

  it.each([
    ['an unknown action', { action: 'teleport', requestId: 'bad-1' }, /unknown action/],
    ['a missing channel', { action: 'subscribe', requestId: 'bad-2' }, /channel/],
    ['a channel that is not a string', { action: 'subscribe', channel: 42, requestId: 'bad-3' }, /channel must be string/],
    ['an over-long channel', { action: 'subscribe', channel: `jobs.${'x'.repeat(300)}`, requestId: 'bad-4' }, /channel is too long/],
    ['no action at all', { channel: 'jobs.J1', requestId: 'bad-5' }, /action/],
  ])('refuses %s with INVALID_MESSAGE, echoing the requestId', async (_name, frame, reason) => {
    client.send(frame);
    const error = await errorFor(frame.requestId);
    expect(error).toMatchObject({ event: 'error', code: 'INVALID_MESSAGE', message: expect.stringMatching(reason) });
    expect(await client.request({ action: 'ping' })).toMatchObject({ event: 'pong' });
  });

  it('refuses an over-long requestId without echoing it', async () => {
    const long = 'r'.repeat(129);
    client.send({ action: 'ping', requestId: long });
    const error = await client.waitFor((m) => m.event === 'error' && m.message.includes('requestId'));
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(JSON.stringify(error)).not.toContain(long);
  });

  it('answers CHANNEL_NOT_FOUND for a channel that does not exist', async () => {
    for (const channel of ['jobs.', 'jobs.a.b', 'rooms.lobby', 'jobs.caf\u00e9']) {
      expect(await client.request({ action: 'subscribe', channel })).toMatchObject({ event: 'error', code: 'CHANNEL_NOT_FOUND', channel });
    }
  });

  it('refuses documents until document roles exist', async () => {
    expect(await client.request({ action: 'subscribe', channel: 'docs.D1' })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await client.request({ action: 'subscribe', channel: 'presence.D1' })).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('unsubscribes', async () => {
    await client.subscribe('user.alice');
    expect(await client.request({ action: 'unsubscribe', channel: 'user.alice' })).toMatchObject({ event: 'unsubscribed', channel: 'user.alice' });
  });

  it('allows at most 100 subscriptions per connection', async () => {
    const many = await product.connect('bob');
    for (let i = 0; i < 100; i++) many.send({ action: 'subscribe', channel: `jobs.many-${i}`, requestId: `m${i}` });
    await Promise.all(Array.from({ length: 100 }, (_, i) => many.waitFor((m) => 'requestId' in m && m.requestId === `m${i}`)));
    expect(many.messages.filter((m) => m.event === 'subscribed')).toHaveLength(100);
    expect(await many.request({ action: 'subscribe', channel: 'jobs.one-too-many' })).toMatchObject({
      event: 'error',
      code: 'RATE_LIMIT_EXCEEDED',
      channel: 'jobs.one-too-many',
    });
    // room again after an unsubscribe
    await many.request({ action: 'unsubscribe', channel: 'jobs.many-0' });
    expect(await many.request({ action: 'subscribe', channel: 'jobs.one-too-many' })).toMatchObject({ event: 'subscribed' });
  });

  it('ignores a userId inside a message: the token decides who you are', async () => {
    const reply = await client.request({ action: 'subscribe', channel: 'user.bob', userId: 'bob' });
    expect(reply).toMatchObject({ event: 'error', code: 'PERMISSION_DENIED' });
  });

  it('closes the connection with 1009 when a frame exceeds 128 KB, and accepts 128 KB', async () => {
    const big = await product.connect('carol');
    // exactly 128 KB passes the gateway (the router then refuses it as too large for an action)
    const atLimit = JSON.stringify({ action: 'ping', requestId: 'big-ok', pad: '' });
    big.send(atLimit.replace('"pad":""', `"pad":"${'x'.repeat(128 * 1024 - atLimit.length)}"`));
    expect(await big.waitFor((m) => m.event === 'error')).toMatchObject({ code: 'INVALID_MESSAGE', message: expect.stringMatching(/larger than/) });
    big.send('x'.repeat(128 * 1024 + 1));
    expect((await big.closed).code).toBe(1009);
  });
});
