/**
 * The SSE fallback end to end: the real SSE handler behind the local function URL (a shim of
 * Lambda response streaming that really streams), real workers publishing through
 * EventBridge, and two real clients: the `eventsource` package (WHATWG EventSource) and raw
 * `fetch` reading the body as it streams.
 */
import { once } from 'node:events';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventSource, type FetchLike } from 'eventsource';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../functions/adapters/dynamodb/table.ts';
import { encodeResumeToken } from '../../functions/domain/resume-token.ts';
import { mintDevToken } from '../../local/dev-token.ts';
import { RawSseClient, positionsOf } from '../support/sse.ts';
import { at, startProduct, type Product } from './support.ts';

const FAST = {
  SSE_POLL_MIN_MS: '40',
  SSE_POLL_MAX_MS: '120',
  SSE_HEARTBEAT_MS: '300',
  SSE_RETRY_MS: '100',
  SSE_GAP_GRACE_MS: '200',
};
const WAIT_MS = 10_000;

let n = 0;
const unique = (prefix: string): string => `${prefix}${++n}x${Date.now().toString(36)}`;

/** An EventSource that keeps what it receives and awaits events instead of sleeping. */
class EsClient {
  readonly received: { type: string; data: Record<string, unknown>; lastEventId: string }[] = [];
  readonly requests: { lastEventId: string | undefined }[] = [];
  opens = 0;
  readonly es: EventSource;
  #waiters: (() => void)[] = [];

  constructor(url: string, authorization?: string) {
    const fetchWithAuth: FetchLike = (input, init) => {
      const headers = init.headers ?? {};
      this.requests.push({ lastEventId: headers['Last-Event-ID'] });
      return fetch(input, { ...init, headers: { ...headers, ...(authorization ? { authorization } : {}) } });
    };
    this.es = new EventSource(url, { fetch: fetchWithAuth });
    this.es.addEventListener('open', () => {
      this.opens++;
      this.#wake();
    });
    for (const type of ['subscribed', 'job:update', 'notification', 'recovery', 'error']) {
      this.es.addEventListener(type, (event) => {
        if (!(event instanceof MessageEvent)) return; // a connection error (no data)
        this.received.push({ type, data: JSON.parse(String(event.data)) as Record<string, unknown>, lastEventId: event.lastEventId });
        this.#wake();
      });
    }
  }

  offsets(channel: string): number[] {
    return this.received.filter((e) => e.data['channel'] === channel && typeof e.data['offset'] === 'number').map((e) => e.data['offset'] as number);
  }

  until(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} not met within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`)), timeoutMs);
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      };
      this.#waiters.push(waiter);
    });
  }

  close(): void {
    this.es.close();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

describe('SSE', () => {
  let product: Product;
  const raws: RawSseClient[] = [];
  const sources: EsClient[] = [];

  beforeAll(async () => {
    product = await startProduct({ env: { ...FAST, SSE_MAX_DURATION_MS: '60000' } });
  });
  afterEach(async () => {
    for (const c of raws.splice(0)) c.abort();
    for (const s of sources.splice(0)) s.close();
    await product.runtime.sse.idle();
  });
  afterAll(() => product.close());

  const url = (query: Record<string, string>): string => `${product.runtime.sseUrl}?${new URLSearchParams(query).toString()}`;
  const open = async (userId: string, channels: string[], extra: { headers?: Record<string, string>; query?: Record<string, string> } = {}): Promise<RawSseClient> => {
    const token = await product.token(userId);
    const client = await RawSseClient.open(url({ channels: channels.join(','), ...extra.query }), {
      headers: { authorization: `Bearer ${token}`, ...extra.headers },
    });
    raws.push(client);
    return client;
  };
  const request = async (query: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> =>
    fetch(`${product.runtime.sseUrl}${query}`, init);
  const subscribed = (client: RawSseClient, count: number): Promise<void> =>
    client.until((c) => c.dataOf('subscribed').length >= count, `${count} subscribed`);

  describe('live delivery', () => {
    it('delivers job updates and notifications to an EventSource, with the WebSocket names, envelope and resume ids', async () => {
      // Prepare
      const user = unique('es');
      const jobId = unique('job');
      const token = await product.token(user);
      const client = new EsClient(url({ channels: `jobs.${jobId},user.${user}`, token }));
      sources.push(client);
      await client.until(() => client.received.filter((e) => e.type === 'subscribed').length === 2, 'subscribed');
      // Act
      await product.publisher.publishJobUpdate({ jobId, userId: user, status: 'running', progress: 40, message: 'Rendering slide 4', timestamp: at(1) });
      await product.publisher.publishNotification({ userId: user, type: 'comment.mention', title: 'Bob mentioned you' });
      await client.until(() => client.offsets(`jobs.${jobId}`).length === 1 && client.offsets(`user.${user}`).length === 1, 'both events');
      // Assess
      const job = client.received.find((e) => e.type === 'job:update');
      expect(job?.data).toEqual({
        event: 'job:update',
        channel: `jobs.${jobId}`,
        offset: 1,
        data: { type: 'job.update', jobId, status: 'running', progress: 40, message: 'Rendering slide 4', timestamp: at(1) },
      });
      const notification = client.received.find((e) => e.type === 'notification');
      expect(notification?.data).toMatchObject({ event: 'notification', channel: `user.${user}`, offset: 1, data: { userId: user, title: 'Bob mentioned you' } });
      expect(positionsOf(client.received.at(-1)?.lastEventId)).toEqual({ [`jobs.${jobId}`]: 1, [`user.${user}`]: 1 });
    });

    it("sends the current state of the user's job on open (Authorization: Bearer)", async () => {
      const jobId = unique('job');
      await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 70, timestamp: at(2) });
      await product.settled();
      const client = await open('alice', [`jobs.${jobId}`]);
      const state = await client.waitForEvent((e) => e.event === 'job:update');
      expect(client.status).toBe(200);
      expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(JSON.parse(state.data)).toMatchObject({ channel: `jobs.${jobId}`, offset: 1, data: { status: 'running', progress: 70 } });
      expect(client.items[0]).toEqual({ kind: 'retry', ms: 100 });
    });

    it('streams: the first events reach the client while the handler is still running', async () => {
      // Prepare
      const user = unique('stream');
      const settledBefore = product.runtime.sse.completed;
      // Act
      const client = await open(user, [`user.${user}`]);
      await subscribed(client, 1);
      // Assess: the handler has not returned, yet the client already has its first event
      expect(product.runtime.sse.active).toBe(1);
      expect(product.runtime.sse.completed).toBe(settledBefore);
      expect(client.isEnded).toBe(false);
      // and a live event still reaches the open stream
      await product.publisher.publishNotification({ userId: user, title: 'live' });
      await client.waitForEvent((e) => e.event === 'notification');
      expect(product.runtime.sse.active).toBe(1);
      expect(client.isEnded).toBe(false);
    });

    it("never leaks another user's job to a stream opened before the job's first event", async () => {
      // Prepare: mallory follows a job id that has no state yet (accepted), alice owns it
      const jobId = unique('job');
      const client = await open('mallory', [`jobs.${jobId}`, 'user.mallory']);
      await subscribed(client, 2);
      // Act
      await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 30, timestamp: at(3) });
      const error = await client.waitForEvent((e) => e.event === 'error');
      await product.publisher.publishNotification({ userId: 'mallory', title: 'yours' });
      await client.waitForEvent((e) => e.event === 'notification');
      // Assess
      expect(JSON.parse(error.data)).toMatchObject({ event: 'error', code: 'PERMISSION_DENIED', channel: `jobs.${jobId}` });
      expect(client.events.filter((e) => e.event === 'job:update')).toEqual([]);
      expect(positionsOf(error.id)).toEqual({ 'user.mallory': expect.any(Number) });
    });

    it('writes a heartbeat comment while idle', async () => {
      const user = unique('hb');
      const client = await open(user, [`user.${user}`]);
      await client.until((c) => c.comments.includes('heartbeat'), 'a heartbeat');
      expect(client.isEnded).toBe(false);
    });
  });

  describe('resume', () => {
    it('gets exactly the missing events, in order, after reconnecting with Last-Event-ID in the middle of a burst', async () => {
      // Prepare: a stream sees the start of a burst of notifications
      const user = unique('burst');
      const channel = `user.${user}`;
      const first = await open(user, [channel]);
      await subscribed(first, 1);
      for (let i = 1; i <= 6; i++) await product.publisher.publishNotification({ userId: user, title: `n${i}` });
      const third = await first.waitForEvent((e) => e.event === 'notification' && JSON.parse(e.data).offset === 3);
      // Act: the client leaves after the third event; the burst goes on while it reconnects
      first.abort();
      const rest = (async () => {
        for (let i = 7; i <= 12; i++) await product.publisher.publishNotification({ userId: user, title: `n${i}` });
      })();
      const second = await open(user, [channel], { headers: { 'last-event-id': third.id as string } });
      await rest;
      await second.until((c) => c.dataOf('notification').some((m) => m['offset'] === 12), 'offset 12');
      // Assess
      expect(positionsOf(third.id)).toEqual({ [channel]: 3 });
      expect(second.dataOf('notification').map((m) => m['offset'])).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect(second.dataOf('recovery')).toEqual([]);
    });

    it('accepts the token in ?lastEventId= for clients that cannot set the header', async () => {
      const user = unique('q');
      for (let i = 1; i <= 3; i++) await product.publisher.publishNotification({ userId: user, title: `n${i}` });
      await product.settled();
      const lastEventId = encodeResumeToken(new Map([[`user.${user}`, 1]]));
      const client = await open(user, [`user.${user}`], { query: { lastEventId } });
      await client.until((c) => c.dataOf('notification').length === 2, 'the replay');
      expect(client.dataOf('notification').map((m) => m['offset'])).toEqual([2, 3]);
    });

    it('sends recovery, then the current state, when history no longer covers what the client missed', async () => {
      // Prepare: three updates, then the first two disappear from history
      const jobId = unique('job');
      const channel = `jobs.${jobId}`;
      for (let s = 1; s <= 3; s++) {
        await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: s * 10, timestamp: at(10 + s) });
        await product.settled();
      }
      const doc = DynamoDBDocumentClient.from(
        new DynamoDBClient({ endpoint: product.runtime.dynamodb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
      );
      const tableName = product.runtime.env['TABLE_NAME'] ?? 'realtime';
      for (const offset of [1, 2]) await doc.send(new DeleteCommand({ TableName: tableName, Key: keys.history(channel, offset) }));
      doc.destroy();
      // Act: a client that had nothing of it
      const client = await open('alice', [channel], { headers: { 'last-event-id': encodeResumeToken(new Map([[channel, 0]])) } });
      await client.waitForEvent((e) => e.event === 'job:update');
      await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'completed', progress: 100, timestamp: at(20) });
      await client.until((c) => c.dataOf('job:update').length === 2, 'the live update');
      // Assess
      expect(client.dataOf('recovery')).toEqual([{ event: 'recovery', channel, recovered: false }]);
      expect(client.dataOf('job:update').map((m) => [m['offset'], (m['data'] as { progress: number }).progress])).toEqual([
        [3, 30],
        [4, 100],
      ]);
    });
  });

  describe('client going away', () => {
    it('stops the handler promptly when the client aborts', async () => {
      // Prepare
      const user = unique('abort');
      const client = await open(user, [`user.${user}`]);
      await subscribed(client, 1);
      expect(product.runtime.sse.active).toBe(1);
      const settled = once(product.runtime.sse, 'settled');
      const started = Date.now();
      // Act
      client.abort();
      await settled;
      // Assess: well before the next heartbeat would have found out
      expect(Date.now() - started).toBeLessThan(250);
      expect(product.runtime.sse.active).toBe(0);
    });
  });

  describe('refusals', () => {
    const expectError = async (response: Response, status: number, code: string, more: Record<string, unknown> = {}): Promise<void> => {
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/json');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toEqual({ event: 'error', code, message: expect.any(String), timestamp: expect.any(String), ...more });
    };

    it('answers 400 to a malformed channel list', async () => {
      const token = await product.token('alice');
      await expectError(await request(`?token=${token}&channels=nope.X`), 400, 'CHANNEL_NOT_FOUND', { channel: 'nope.X' });
      await expectError(await request(`?token=${token}&channels=presence.D1`), 400, 'CHANNEL_NOT_FOUND', { channel: 'presence.D1' });
      await expectError(await request(`?token=${token}`), 400, 'INVALID_MESSAGE');
      await expectError(await request(`?token=${token}&channels=`), 400, 'INVALID_MESSAGE');
      await expectError(await request(`?token=${token}&channels=user.alice,,jobs.J1`), 400, 'INVALID_MESSAGE');
      const tooMany = Array.from({ length: 21 }, (_, i) => `jobs.J${i}`).join(',');
      await expectError(await request(`?token=${token}&channels=${tooMany}`), 400, 'INVALID_MESSAGE');
    });

    it('answers 401 AUTH_REQUIRED without a token and with a bad one', async () => {
      const missing = await request('?channels=user.alice');
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      await expectError(missing, 401, 'AUTH_REQUIRED');
      await expectError(await request('?channels=user.alice&token=not.a.jwt'), 401, 'AUTH_REQUIRED');
      await expectError(await request('?channels=user.alice', { headers: { authorization: 'Bearer not.a.jwt' } }), 401, 'AUTH_REQUIRED');
      const forged = await mintDevToken({ userId: 'alice', secret: 'another-secret-entirely-not-ours' });
      await expectError(await request(`?channels=user.alice&token=${forged}`), 401, 'AUTH_REQUIRED');
      const expired = await mintDevToken({ userId: 'alice', ttlSec: -60 });
      await expectError(await request(`?channels=user.alice&token=${expired}`), 401, 'AUTH_REQUIRED');
    });

    it("answers 403 PERMISSION_DENIED naming the channel for another user's job or notifications", async () => {
      const jobId = unique('job');
      await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', timestamp: at(30) });
      await product.settled();
      const token = await product.token('mallory');
      await expectError(await request(`?token=${token}&channels=user.mallory,jobs.${jobId}`), 403, 'PERMISSION_DENIED', { channel: `jobs.${jobId}` });
      await expectError(await request(`?token=${token}&channels=user.alice`), 403, 'PERMISSION_DENIED', { channel: 'user.alice' });
    });

    it('answers 405 to other methods', async () => {
      const response = await request('?channels=user.alice', { method: 'POST' });
      expect(response.headers.get('allow')).toBe('GET, OPTIONS');
      await expectError(response, 405, 'INVALID_MESSAGE');
      expect((await request('', { method: 'DELETE' })).status).toBe(405);
    });

    it('answers a CORS preflight from an allowed origin, and refuses other origins', async () => {
      // Allowed (CORS_ORIGINS defaults to the local development origins)
      const preflight = await request('?channels=user.alice', {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:3001', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,last-event-id' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:3001');
      expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
      expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, OPTIONS');
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('last-event-id');
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(preflight.headers.get('vary')).toBe('Origin');
      // Refused
      const refused = await request('?channels=user.alice', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      await expectError(refused, 403, 'PERMISSION_DENIED');
      const token = await product.token('alice');
      const refusedGet = await request(`?channels=user.alice&token=${token}`, { headers: { origin: 'https://evil.example' } });
      expect(refusedGet.headers.get('access-control-allow-origin')).toBeNull();
      await expectError(refusedGet, 403, 'PERMISSION_DENIED');
    });

    it('puts the CORS headers of an allowed origin on the stream and on errors', async () => {
      const client = await open('alice', ['user.alice'], { headers: { origin: 'http://127.0.0.1:3001' } });
      expect(client.response.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3001');
      const error = await request('?channels=user.alice', { headers: { origin: 'http://127.0.0.1:3001' } });
      expect(error.status).toBe(401);
      expect(error.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3001');
    });
  });
});

describe('SSE stream end', () => {
  let product: Product;
  const sources: EsClient[] = [];

  beforeAll(async () => {
    product = await startProduct({ env: { ...FAST, SSE_MAX_DURATION_MS: '600' } });
  });
  afterEach(async () => {
    for (const s of sources.splice(0)) s.close();
    await product.runtime.sse.idle();
  });
  afterAll(() => product.close());

  it('ends the stream cleanly at its maximum duration, well before the function times out', async () => {
    const user = unique('end');
    const token = await product.token(user);
    const started = Date.now();
    const client = await RawSseClient.open(`${product.runtime.sseUrl}?channels=user.${user}&token=${token}`);
    await client.ended;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(5000);
    expect(client.dataOf('error')).toEqual([]);
    await product.runtime.sse.idle();
    expect(product.runtime.sse.active).toBe(0);
  });

  it('lets an EventSource reconnect with Last-Event-ID and miss nothing across stream ends', async () => {
    // Prepare
    const user = unique('reconnect');
    const channel = `user.${user}`;
    const client = new EsClient(`${product.runtime.sseUrl}?channels=${channel}`, `Bearer ${await product.token(user)}`);
    sources.push(client);
    await client.until(() => client.opens === 1, 'open');
    // Act: notifications keep coming across several stream ends (600 ms each)
    for (let i = 1; i <= 10; i++) {
      await product.publisher.publishNotification({ userId: user, title: `n${i}` });
      if (i % 3 === 0) {
        const opens = client.opens;
        await client.until(() => client.opens > opens, 'a reconnect');
      }
    }
    await client.until(() => client.offsets(channel).includes(10), 'offset 10');
    // Assess
    expect(client.offsets(channel)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(client.opens).toBeGreaterThanOrEqual(4);
    // every reconnect carried the last id it had
    expect(client.requests.slice(1).every((r) => r.lastEventId !== undefined)).toBe(true);
  });
});
