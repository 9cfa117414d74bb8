/**
 * Attacks through the real local runtime (real handlers, real `ws` clients, dynalite): floods
 * of messages, subscriptions and connections, foreign origins, and a token in the URL that must
 * never reach a log. The JWT attacks are in test/unit/jwt-verifier.test.ts and
 * test/e2e/auth.test.ts; docs/security.md lists every attack and the test that proves it.
 */
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { logger, metricsPort } from '../../functions/adapters/powertools.ts';
import type { ServerMessage } from '../../functions/domain/messages.ts';
import type { LogAttributes } from '../../functions/domain/ports.ts';
import { startRedis, type LocalRedis } from '../support/redis.ts';
import { startProduct, type Product } from './support.ts';

/** Opens a socket with these headers; resolves with 101 or the refused upgrade's status. */
function upgrade(product: Product, query: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${product.runtime.wsUrl}/${query}`, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', (error) => {
      if (!String(error.message).includes('Unexpected server response')) reject(error);
    });
  });
}

describe('a flood of messages on one connection', () => {
  let product: Product;
  beforeAll(async () => {
    product = await startProduct({
      env: { RATE_LIMIT_MESSAGE_BURST: '5', RATE_LIMIT_MESSAGES_PER_SECOND: '1', RATE_LIMIT_WARNINGS_BEFORE_CLOSE: '3' },
    });
  });
  afterAll(() => product.close());

  it('is refused with RATE_LIMIT_EXCEEDED and retryAfterMs, then told and closed (1000, as DeleteConnection does on AWS)', async () => {
    const count = vi.spyOn(metricsPort, 'count');
    const client = await product.connect('flooder');
    // One at a time, so the order of the replies is the order of the frames; until the reply
    // that announces the close. (A token refilled meanwhile may let one more ping through.)
    const replies: ServerMessage[] = [];
    for (let i = 0; i < 30; i++) {
      const reply = await client.request({ action: 'ping' });
      replies.push(reply);
      if (reply.event === 'error' && reply.message.includes('closed')) break;
    }
    expect((await client.closed).code).toBe(1000);
    // 5 answered from the burst, then 3 warnings, then the refusal that closes.
    expect(replies.slice(0, 5).map((r) => r.event)).toStrictEqual(['pong', 'pong', 'pong', 'pong', 'pong']);
    const errors = replies.filter((r) => r.event === 'error');
    expect(errors).toHaveLength(4);
    for (const e of errors) expect(e).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', retryAfterMs: expect.any(Number) });
    expect(errors.slice(0, 3).every((e) => !e.message.includes('closed'))).toBe(true);
    expect(count).toHaveBeenCalledWith('MessagesRateLimited');
    expect(count).toHaveBeenCalledWith('ConnectionsClosedForFlooding');
    count.mockRestore();
    // The other connections are untouched.
    const other = await product.connect('bystander');
    expect(await other.request({ action: 'ping' })).toMatchObject({ event: 'pong' });
  });
});

describe('a flood of connections', () => {
  let product: Product;
  beforeAll(async () => {
    product = await startProduct({ env: { RATE_LIMIT_CONNECTIONS_PER_IP: '5', MAX_CONNECTIONS_PER_USER: '3' } });
  });
  afterAll(() => product.close());

  it('from one IP: the 6th within a minute is refused with 429 and nothing is recorded', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await upgrade(product, `?token=${await product.token(`ip-user-${i}`)}`));
    expect(statuses).toStrictEqual([101, 101, 101, 101, 101, 429]);
  });
});

describe('connections per user', () => {
  let product: Product;
  beforeAll(async () => {
    product = await startProduct({ env: { MAX_CONNECTIONS_PER_USER: '3' } });
  });
  afterAll(() => product.close());

  it('refuses a 4th open connection of one user with 429, and lets one in again after a close', async () => {
    const tabs = [await product.connect('many-tabs'), await product.connect('many-tabs'), await product.connect('many-tabs')];
    const token = await product.token('many-tabs');
    expect(await upgrade(product, `?token=${token}`)).toBe(429);
    expect(await upgrade(product, `?token=${await product.token('someone-else')}`)).toBe(101);
    await tabs[0]!.close();
    await vi.waitFor(async () => expect(await upgrade(product, `?token=${token}`)).toBe(101));
  });
});

describe('a flood of subscribes', () => {
  let product: Product;
  beforeAll(async () => {
    product = await startProduct({ env: { MAX_SUBSCRIPTIONS_PER_USER: '4', RATE_LIMIT_MESSAGE_BURST: '1000' } });
  });
  afterAll(() => product.close());

  it('is capped per user across connections with RATE_LIMIT_EXCEEDED naming the channel', async () => {
    const a = await product.connect('subscriber');
    const b = await product.connect('subscriber');
    for (const channel of ['user.subscriber', 'jobs.S1', 'jobs.S2']) await a.subscribe(channel);
    await b.subscribe('jobs.S3');
    expect(await b.request({ action: 'subscribe', channel: 'jobs.S4' })).toMatchObject({ event: 'error', code: 'RATE_LIMIT_EXCEEDED', channel: 'jobs.S4' });
    await a.close();
    await vi.waitFor(async () => expect(await b.request({ action: 'subscribe', channel: 'jobs.S4' })).toMatchObject({ event: 'subscribed' }));
  });
});

describe('origins', () => {
  let product: Product;
  beforeAll(async () => {
    product = await startProduct({ env: { CORS_ORIGINS: 'https://app.example.com' } });
  });
  afterAll(() => product.close());

  it('refuses a WebSocket from a page of another origin with 403, counted', async () => {
    const count = vi.spyOn(metricsPort, 'count');
    const token = await product.token('alice');
    expect(await upgrade(product, `?token=${token}`, { origin: 'https://evil.example.net' })).toBe(403);
    expect(count).toHaveBeenCalledWith('OriginRefused');
    count.mockRestore();
  });

  it('accepts the listed origin, and a client that sends no Origin (not a browser)', async () => {
    const token = await product.token('alice');
    expect(await upgrade(product, `?token=${token}`, { origin: 'https://app.example.com' })).toBe(101);
    expect(await upgrade(product, `?token=${token}`)).toBe(101);
  });
});

describe('origins on the local runtime by default', () => {
  let product: Product;
  beforeAll(async () => {
    product = await startProduct();
  });
  afterAll(() => product.close());

  it('lets a page served by the runtime itself connect, and refuses another origin', async () => {
    const token = await product.token('alice');
    const own = new URL(product.runtime.url).origin;
    expect(await upgrade(product, `?token=${token}`, { origin: own })).toBe(101);
    expect(await upgrade(product, `?token=${token}`, { origin: 'http://localhost:3001' })).toBe(101);
    expect(await upgrade(product, `?token=${token}`, { origin: 'http://localhost:9999' })).toBe(403);
  });
});

describe('a token in the URL', () => {
  let product: Product;
  const written: string[] = [];
  beforeAll(async () => {
    const log = (level: string) => (message: string, attributes?: LogAttributes) => written.push(`${level} ${message} ${JSON.stringify(attributes ?? {})}`);
    product = await startProduct({ log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } });
  });
  afterAll(() => product.close());
  afterEach(() => logger.setLogLevel('SILENT'));

  it('never appears in the handlers\' or the runtime\'s logs, at any level, over a whole session', async () => {
    const output = (logger as unknown as { console: Console }).console;
    const spies = (['debug', 'info', 'warn', 'error', 'log'] as const).map((m) =>
      vi.spyOn(output, m).mockImplementation((line: unknown) => void written.push(String(line))),
    );
    logger.setLogLevel('DEBUG');
    const token = await product.token('alice');
    try {
      const client = await product.connectWithToken(token);
      await client.subscribe('user.alice');
      expect(await client.request({ action: 'subscribe', channel: 'user.bob' })).toMatchObject({ code: 'PERMISSION_DENIED' });
      client.send('not json');
      await client.waitFor((m) => m.event === 'error' && m.code === 'INVALID_MESSAGE');
      await client.close();
      expect(await upgrade(product, `?token=${token}x`)).toBe(401);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const lines = written.join('\n');
    expect(written.length).toBeGreaterThan(5);
    expect(lines).not.toContain(token);
    expect(lines).not.toContain(token.split('.')[2]!);
    expect(lines).not.toContain(token.split('.')[1]!);
  });
});

describe('limits kept in Redis (REDIS_URL), as on AWS', () => {
  let redis: LocalRedis;
  let product: Product;
  beforeAll(async () => {
    redis = await startRedis();
    product = await startProduct({
      env: { REDIS_URL: redis.url, MAX_CONNECTIONS_PER_USER: '2', RATE_LIMIT_MESSAGE_BURST: '3', RATE_LIMIT_MESSAGES_PER_SECOND: '1' },
    });
  });
  afterAll(async () => {
    await product.close();
    await redis.stop();
  });

  it('counts connections and messages in Redis, and fails open when Redis goes away', async () => {
    const first = await product.connect('redis-user');
    await product.connect('redis-user');
    const token = await product.token('redis-user');
    expect(await upgrade(product, `?token=${token}`)).toBe(429);
    const replies: ServerMessage[] = [];
    for (let i = 0; i < 10 && !replies.some((r) => r.event === 'error'); i++) replies.push(await first.request({ action: 'ping' }));
    expect(replies.slice(0, 3).map((r) => r.event)).toStrictEqual(['pong', 'pong', 'pong']);
    expect(replies.at(-1)).toMatchObject({ event: 'error', code: 'RATE_LIMIT_EXCEEDED', retryAfterMs: expect.any(Number) });

    const count = vi.spyOn(metricsPort, 'count');
    await redis.stop();
    try {
      // Nothing can be checked: the connection and its messages go through, counted.
      expect(await upgrade(product, `?token=${token}`)).toBe(101);
      expect(await first.request({ action: 'ping' })).toMatchObject({ event: 'pong' });
      expect(count).toHaveBeenCalledWith('RateLimitFailOpen');
    } finally {
      count.mockRestore();
    }
  });
});
