/**
 * The SDK in Node against the real local runtime (real handlers, dynalite, the `ws` and
 * `eventsource` packages as the WebSocket and EventSource): job progress, recovery after a
 * dropped connection, the SSE fallback and its return, presence between two clients, and
 * publishing on docs.*. The browser bundle is checked for Node built-ins too.
 */
import { build } from 'esbuild';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ChannelMessage, type ConnectOptions, type RealtimeClient, type WebSocketConstructor } from '../../client/index.ts';
import { startProduct, type Product } from '../e2e/support.ts';

let product: Product;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  product = await startProduct();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await product?.close();
});

function client(userId: string, options: Partial<ConnectOptions> = {}): RealtimeClient {
  const rt = connect({
    url: product.runtime.wsUrl,
    sseUrl: product.runtime.sseUrl,
    token: () => product.token(userId, { name: userId.toUpperCase() }),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    EventSource: EventSource as unknown as ConnectOptions['EventSource'],
    backoff: { baseMs: 100, maxMs: 1000 },
    ...options,
  });
  clients.push(rt);
  return rt;
}

function state(rt: RealtimeClient, wanted: string): Promise<void> {
  if (rt.state === wanted) return Promise.resolve();
  return new Promise((resolve) => {
    const off = rt.on('state', (s) => {
      if (s !== wanted) return;
      off();
      resolve();
    });
  });
}

function subscribed(rt: RealtimeClient, channel: string, seen: ChannelMessage[]): Promise<void> {
  return new Promise((resolve) => rt.subscribe(channel, (m) => seen.push(m), { onSubscribed: () => resolve() }));
}

const progressOf = (messages: ChannelMessage[]): (number | undefined)[] =>
  messages.map((m) => (m.event === 'job:update' ? m.data.progress : undefined));

describe('the SDK against the local runtime', () => {
  it('follows a job to completion with onJob', async () => {
    const rt = client('nina');
    const updates: [string, number | undefined][] = [];
    const done = new Promise<void>((resolve) =>
      rt.onJob('N1', (job) => {
        updates.push([job.status, job.progress]);
        if (job.status === 'completed') resolve();
      }),
    );
    await state(rt, 'open');
    for (const [status, progress] of [['running', 30], ['running', 60], ['completed', 100]] as const) {
      await product.publisher.publishJobUpdate({ jobId: 'N1', userId: 'nina', status, progress });
      await product.settled();
    }
    await done;
    expect(updates).toEqual([
      ['running', 30],
      ['running', 60],
      ['completed', 100],
    ]);
  });

  it('recovers what was published while its connection was gone, once each and in order', async () => {
    // The token function is the gate: while it waits, the client cannot reconnect.
    let gate: Promise<void> = Promise.resolve();
    let open = (): void => {};
    const rt = client('omar', { token: async () => (await gate, product.token('omar')) });
    const seen: ChannelMessage[] = [];
    await state(rt, 'open');
    await subscribed(rt, 'jobs.O1', seen);
    await product.publisher.publishJobUpdate({ jobId: 'O1', userId: 'omar', status: 'running', progress: 10 });
    await product.settled();
    await expect.poll(() => seen.length).toBe(1);

    // The connection vanishes without a word (as a sleeping laptop's does); the job goes on.
    gate = new Promise((resolve) => (open = resolve));
    const { gateway } = product.runtime;
    const omars = gateway.connectionIds().filter((id) => JSON.stringify(gateway.connection(id)?.authorizer ?? {}).includes('"omar"'));
    expect(omars).toHaveLength(1);
    gateway.dropWithoutDisconnect(omars[0] as string);
    await state(rt, 'reconnecting');
    for (const progress of [20, 30, 40]) {
      await product.publisher.publishJobUpdate({ jobId: 'O1', userId: 'omar', status: 'running', progress });
      await product.settled();
    }
    expect(progressOf(seen)).toEqual([10]);
    open();
    await state(rt, 'open');
    await expect.poll(() => progressOf(seen)).toEqual([10, 20, 30, 40]);
    expect(seen.map((m) => m.offset)).toEqual([1, 2, 3, 4]);
  });

  it('falls back to SSE when WebSocket is blocked, and returns to WebSocket when it can connect', async () => {
    let blocked = true;
    class SometimesBlocked extends WebSocket {
      constructor(url: string) {
        super(blocked ? url.replace(/^ws:\/\/[^/]+/, 'ws://127.0.0.1:9') : url);
      }
    }
    const rt = client('pia', { WebSocket: SometimesBlocked as unknown as WebSocketConstructor, fallbackAfterFailures: 2, probeIntervalMs: 1500 });
    const seen: ChannelMessage[] = [];
    rt.subscribe('jobs.P1', (m) => seen.push(m));
    await state(rt, 'fallback-sse');
    expect(rt.transport).toBe('sse');
    await expect.poll(() => product.runtime.sse.active).toBeGreaterThan(0);
    await product.publisher.publishJobUpdate({ jobId: 'P1', userId: 'pia', status: 'running', progress: 50 });
    await product.settled();
    await expect.poll(() => progressOf(seen), { timeout: 10_000 }).toEqual([50]);
    await expect(rt.publish('docs.X', {})).rejects.toMatchObject({ code: 'NOT_CONNECTED' });

    blocked = false;
    await state(rt, 'open');
    expect(rt.transport).toBe('websocket');
    await product.publisher.publishJobUpdate({ jobId: 'P1', userId: 'pia', status: 'completed', progress: 100 });
    await product.settled();
    await expect.poll(() => progressOf(seen)).toEqual([50, 100]);
    expect(seen.map((m) => m.offset)).toEqual([1, 2]);
  });

  it('shows two clients in one document to each other, with cursors, and publishes document events', async () => {
    for (const userId of ['quinn', 'ravi']) await product.publisher.publishDocumentPermission({ documentId: 'Q1', userId, role: 'editor' });
    await product.settled();
    const quinn = client('quinn');
    const ravi = client('ravi');
    const qDoc = quinn.joinDocument('Q1');
    const rDoc = ravi.joinDocument('Q1');
    await expect.poll(() => [...qDoc.members.keys()].sort()).toEqual(['quinn', 'ravi']);
    expect(quinn.userId).toBe('quinn');
    expect(qDoc.members.get('ravi')?.name).toBe('RAVI');

    for (let x = 0; x <= 100; x += 10) rDoc.updateCursor({ x, y: 5 });
    await expect.poll(() => qDoc.members.get('ravi')?.cursor).toEqual({ x: 100, y: 5 });

    const events: ChannelMessage[] = [];
    await subscribed(quinn, 'docs.Q1', events);
    await subscribed(ravi, 'docs.Q1', []);
    const { offset } = await ravi.publish('docs.Q1', { update: 'AAEC' });
    await expect.poll(() => events.map((e) => [e.offset, e.event === 'doc:event' ? e.userId : ''])).toEqual([[offset, 'ravi']]);

    const left = new Promise<string>((resolve) => qDoc.on('leave', (m) => resolve(m.userId)));
    ravi.close();
    expect(await left).toBe('ravi');
  });
});

describe('the SDK against API Gateway\'s limits (shortened)', () => {
  it('keeps a quiet connection open with pings, and replaces it before the connection cap without a gap', async () => {
    const limited = await startProduct({ idleTimeoutMs: 1000, maxConnectionMs: 3000 });
    const rt = connect({
      url: limited.runtime.wsUrl,
      token: () => limited.token('tara'),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      pingIntervalMs: 300,
      maxConnectionMs: 2000,
    });
    try {
      const states: string[] = [];
      rt.on('state', (s) => states.push(s));
      const seen: ChannelMessage[] = [];
      await subscribed(rt, 'jobs.T1', seen);
      const firstConnection = limited.runtime.gateway.connectionIds();
      // Progress for over 4 s: across the 1 s idle timeout (only pings keep the connection) and
      // past the 3 s cap, which the planned reconnect at 2 s stays ahead of.
      const started = Date.now();
      let count = 0;
      while (Date.now() - started < 4500) {
        count++;
        await limited.publisher.publishJobUpdate({ jobId: 'T1', userId: 'tara', status: 'running', progress: count, sequence: count });
        await limited.settled();
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      const all = Array.from({ length: count }, (_, i) => i + 1);
      await expect.poll(() => seen.length, { timeout: 5000 }).toBe(count);
      expect(progressOf(seen)).toEqual(all);
      expect(seen.map((m) => m.offset)).toEqual(all);
      expect(states).toEqual(['open']); // the first open, and never anything else
      expect(limited.runtime.gateway.connectionIds()).not.toEqual(firstConnection);
    } finally {
      rt.close();
      await limited.close();
    }
  });
});

describe('the browser build', () => {
  it('bundles for the browser with no Node built-ins', async () => {
    const result = await build({
      entryPoints: [new URL('../../client/index.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      minify: true,
      logLevel: 'silent',
    });
    const text = result.outputFiles[0]?.text ?? '';
    expect(text).not.toMatch(/\bnode:/);
    expect(text).not.toMatch(/\brequire\(/);
    // zod/mini keeps it small: the SDK with the shared schemas.
    expect(text.length).toBeLessThan(120 * 1024);
  });
});
