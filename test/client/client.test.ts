/**
 * The SDK's connection life, driven by a fake clock against a fake server: the test plays the
 * server's side of each WebSocket and EventSource the client opens.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type ConnectOptions, type RealtimeClient } from '../../client/index.ts';
import type { ChannelMessage, ConnectionState } from '../../client/index.ts';
import { FakeEventSource, FakeTimers, FakeWebSocket, flush, jobUpdate } from './fakes.ts';

let timers: FakeTimers;
let client: RealtimeClient | undefined;
let frames: (() => void)[];

function start(options: Partial<ConnectOptions> = {}): { client: RealtimeClient; states: ConnectionState[] } {
  const states: ConnectionState[] = [];
  client = connect({
    url: 'ws://rt.test/',
    sseUrl: 'http://rt.test/sse',
    token: 'T1',
    WebSocket: FakeWebSocket,
    EventSource: FakeEventSource,
    timers,
    random: () => 0.5,
    frame: (fn) => frames.push(fn),
    ...options,
  });
  client.on('state', (s) => states.push(s));
  return { client, states };
}

/** Runs the pending animation frames. */
async function paint(): Promise<void> {
  const due = frames;
  frames = [];
  for (const fn of due) fn();
  await flush();
}

async function openSocket(ws = FakeWebSocket.last, recovered = true): Promise<FakeWebSocket> {
  ws.accept();
  await flush();
  ws.ackSubscribes(recovered);
  await flush();
  return ws;
}

beforeEach(() => {
  timers = new FakeTimers();
  frames = [];
  FakeWebSocket.reset();
  FakeEventSource.reset();
});
afterEach(() => {
  client?.close();
  client = undefined;
});

describe('connect', () => {
  it('opens a WebSocket with the token in the query and reports connecting, then open', async () => {
    const { client, states } = start();
    await flush();
    expect(client.state).toBe('connecting');
    expect(FakeWebSocket.last.url).toBe('ws://rt.test/?token=T1');
    await openSocket();
    expect(client.state).toBe('open');
    expect(client.transport).toBe('websocket');
    expect(states).toEqual(['open']);
  });

  it('calls a token function again for every connection, so an expiring token is refreshed', async () => {
    let n = 0;
    start({ token: async () => `T${String(++n)}` });
    await flush();
    await openSocket();
    FakeWebSocket.last.drop();
    await timers.advance(1000);
    expect(FakeWebSocket.instances.map((ws) => ws.token)).toEqual(['T1', 'T2']);
  });

  it('reads the user id from the token', async () => {
    const payload = btoa(JSON.stringify({ sub: 'alice', exp: 1 })).replace(/=+$/, '');
    const { client } = start({ token: `h.${payload}.s` });
    await flush();
    expect(client.userId).toBe('alice');
  });

  it('ends in closed and opens nothing more after close()', async () => {
    const { client, states } = start();
    await flush();
    await openSocket();
    client.close();
    await timers.advance(60_000);
    expect(client.state).toBe('closed');
    expect(states.at(-1)).toBe('closed');
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe('reconnect', () => {
  it('waits with exponential backoff and full jitter between failed attempts', async () => {
    const { client, states } = start({ fallbackAfterFailures: 10, backoff: { baseMs: 1000, maxMs: 8000 } });
    await flush();
    await openSocket();
    FakeWebSocket.last.drop();
    await flush();
    expect(client.state).toBe('reconnecting');
    // random() = 0.5: half of 1 s, 2 s, 4 s, 8 s, 8 s (the cap).
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      waits.push(Math.max(...timers.pending().filter((ms) => ms <= 8000)));
      const before = FakeWebSocket.instances.length;
      await timers.advance(waits[i] as number);
      expect(FakeWebSocket.instances.length).toBe(before + 1);
      FakeWebSocket.last.refuse();
      await flush();
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 4000]);
    expect(states).toEqual(['open', 'reconnecting']);
  });

  it('resets the backoff once a connection has been stable', async () => {
    start({ fallbackAfterFailures: 10, backoff: { baseMs: 1000 }, stableAfterMs: 5000 });
    await flush();
    await openSocket();
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last.drop();
      await timers.advance(10_000);
      await openSocket();
    }
    // Each connection lived under 5 s before the next drop, so the ceiling kept growing...
    FakeWebSocket.last.drop();
    await flush();
    expect(Math.min(...timers.pending())).toBe(4000);
    await timers.advance(10_000);
    await openSocket();
    await timers.advance(5000);
    // ...until one stayed open for 5 s.
    FakeWebSocket.last.drop();
    await flush();
    expect(timers.pending()).toContain(500);
  });

  it('subscribes every channel again with its last offset, and turns open only once acknowledged', async () => {
    const { client } = start();
    const seen: number[] = [];
    client.subscribe('jobs.J1', (m) => seen.push(m.offset));
    client.subscribe('user.alice', () => {});
    await flush();
    const first = await openSocket();
    first.push(jobUpdate('J1', 1, 10));
    first.push(jobUpdate('J1', 2, 20));
    first.drop();
    await timers.advance(1000);
    const second = FakeWebSocket.last;
    second.accept();
    await flush();
    expect(second.frames('subscribe').map((f) => [f['channel'], f['since']])).toEqual([
      ['jobs.J1', 2],
      ['user.alice', undefined],
    ]);
    expect(client.state).toBe('reconnecting');
    second.ackSubscribes(true);
    await flush();
    expect(client.state).toBe('open');
    // The replay repeats what a live post already brought, and arrives out of order.
    second.push(jobUpdate('J1', 4, 40));
    second.push(jobUpdate('J1', 2, 20));
    second.push(jobUpdate('J1', 3, 30));
    second.push(jobUpdate('J1', 4, 40));
    await flush();
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('tells the app when the server could not recover what it missed, and goes on from the next message', async () => {
    const { client } = start();
    const seen: number[] = [];
    const failures: string[] = [];
    client.subscribe('jobs.J1', (m) => seen.push(m.offset), { onRecoveryFailed: () => failures.push('J1') });
    client.on('recovery', (info) => failures.push(`event:${info.channel}`));
    await flush();
    const first = await openSocket();
    first.push(jobUpdate('J1', 3, 30));
    first.drop();
    await timers.advance(1000);
    await openSocket(FakeWebSocket.last, false);
    FakeWebSocket.last.push(jobUpdate('J1', 1500, 90));
    await flush();
    expect(failures).toEqual(['J1', 'event:jobs.J1']);
    expect(seen).toEqual([3, 1500]);
  });

  it('asks the server again when a gap does not fill', async () => {
    const { client } = start({ holdMs: 1000 });
    const seen: number[] = [];
    client.subscribe('jobs.J1', (m) => seen.push(m.offset));
    await flush();
    const ws = await openSocket();
    ws.push(jobUpdate('J1', 1, 10));
    ws.push(jobUpdate('J1', 3, 30));
    await timers.advance(1000);
    expect(ws.frames('subscribe').at(-1)).toMatchObject({ channel: 'jobs.J1', since: 1 });
    ws.ackSubscribes(true);
    ws.push(jobUpdate('J1', 2, 20));
    ws.push(jobUpdate('J1', 3, 30));
    await flush();
    expect(seen).toEqual([1, 2, 3]);
  });

  it('sends unsubscribe once the last handler of a channel is gone', async () => {
    const { client } = start();
    const a = client.subscribe('jobs.J1', () => {});
    const b = client.subscribe('jobs.J1', () => {});
    await flush();
    const ws = await openSocket();
    expect(ws.frames('subscribe')).toHaveLength(1);
    a();
    expect(ws.frames('unsubscribe')).toHaveLength(0);
    b();
    expect(ws.frames('unsubscribe')).toEqual([{ action: 'unsubscribe', channel: 'jobs.J1' }]);
  });
});

describe('keep-alive', () => {
  it('pings when nothing was sent for the ping interval, well under the 10-minute idle timeout', async () => {
    start({ pingIntervalMs: 240_000 });
    await flush();
    const ws = await openSocket();
    await timers.advance(239_000);
    expect(ws.frames('ping')).toHaveLength(0);
    await timers.advance(1000);
    expect(ws.frames('ping')).toHaveLength(1);
    ws.push({ event: 'pong', requestId: ws.frames('ping')[0]?.['requestId'], timestamp: new Date().toISOString() });
    await timers.advance(240_000);
    expect(ws.frames('ping')).toHaveLength(2);
  });

  it('pings every presence interval while in a document, so the member does not expire', async () => {
    const { client } = start({ presencePingIntervalMs: 10_000 });
    await flush();
    const ws = await openSocket();
    client.joinDocument('D1');
    await flush();
    for (let i = 0; i < 3; i++) {
      await timers.advance(10_000);
      const ping = ws.frames('ping').at(-1);
      ws.push({ event: 'pong', requestId: ping?.['requestId'], timestamp: new Date().toISOString() });
    }
    expect(ws.frames('ping')).toHaveLength(3);
  });

  it('treats a connection that does not answer a ping as dead and reconnects', async () => {
    const { client } = start({ pingIntervalMs: 60_000, pongTimeoutMs: 10_000 });
    await flush();
    const ws = await openSocket();
    await timers.advance(60_000);
    expect(ws.frames('ping')).toHaveLength(1);
    await timers.advance(10_000);
    expect(ws.closedWith?.code).toBe(4000);
    expect(client.state).toBe('reconnecting');
    await timers.advance(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('opens a new connection before the 2-hour cap and closes the old one only after catching up', async () => {
    const { client, states } = start({ maxConnectionMs: 110 * 60_000, pingIntervalMs: 60 * 60_000 });
    const seen: number[] = [];
    client.subscribe('jobs.J1', (m) => seen.push(m.offset));
    await flush();
    const old = await openSocket();
    old.push(jobUpdate('J1', 1, 10));
    // Keep the old connection answering pings.
    await timers.advance(60 * 60_000);
    old.push({ event: 'pong', requestId: old.frames('ping')[0]?.['requestId'], timestamp: new Date().toISOString() });
    await timers.advance(50 * 60_000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    const next = FakeWebSocket.last;
    next.accept();
    await flush();
    expect(next.frames('subscribe')).toMatchObject([{ channel: 'jobs.J1', since: 1 }]);
    // While the new one catches up, the old one still delivers; the same offsets on both count once.
    old.push(jobUpdate('J1', 2, 20));
    next.push({ event: 'subscribed', channel: 'jobs.J1', requestId: next.frames('subscribe')[0]?.['requestId'], recovered: true });
    next.push(jobUpdate('J1', 2, 20));
    await flush();
    expect(old.closedWith).toMatchObject({ code: 1000 });
    next.push(jobUpdate('J1', 3, 30));
    await flush();
    expect(seen).toEqual([1, 2, 3]);
    expect(states).toEqual(['open']);
    expect(client.transport).toBe('websocket');
  });
});

describe('SSE fallback', () => {
  it('falls back to SSE after WebSocket failed to connect three times, resuming every channel', async () => {
    const { client, states } = start({ fallbackAfterFailures: 3 });
    const seen: ChannelMessage[] = [];
    client.subscribe('jobs.J1', (m) => seen.push(m));
    client.subscribe('user.alice', (m) => seen.push(m));
    await flush();
    const first = await openSocket();
    first.push(jobUpdate('J1', 4, 40));
    first.drop();
    for (let i = 0; i < 3; i++) {
      await timers.advance(30_000);
      FakeWebSocket.last.refuse();
      await flush();
    }
    const es = FakeEventSource.last;
    expect(es.params.get('channels')).toBe('jobs.J1,user.alice');
    expect(es.params.get('token')).toBe('T1');
    const resume = JSON.parse(atob((es.params.get('lastEventId') ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as unknown;
    expect(resume).toEqual({ v: 1, o: { 'jobs.J1': 4 } });
    es.accept();
    await flush();
    expect(client.state).toBe('fallback-sse');
    expect(client.transport).toBe('sse');
    es.push('subscribed', { event: 'subscribed', channel: 'jobs.J1' });
    es.push('job:update', jobUpdate('J1', 4, 40));
    es.push('job:update', jobUpdate('J1', 5, 50));
    await flush();
    expect(seen.map((m) => m.offset)).toEqual([4, 5]);
    expect(states).toEqual(['open', 'reconnecting', 'fallback-sse']);
  });

  it('goes back to WebSocket when a probe connects, without a gap', async () => {
    const { client, states } = start({ fallbackAfterFailures: 1, probeIntervalMs: 30_000 });
    const seen: number[] = [];
    client.subscribe('jobs.J1', (m) => seen.push(m.offset));
    await flush();
    FakeWebSocket.last.refuse();
    await flush();
    const es = FakeEventSource.last;
    es.accept();
    es.push('job:update', jobUpdate('J1', 1, 10));
    await flush();
    expect(client.state).toBe('fallback-sse');
    // A probe fails: still on SSE, and another probe is planned.
    await timers.advance(30_000);
    FakeWebSocket.last.refuse();
    await flush();
    expect(client.state).toBe('fallback-sse');
    await timers.advance(30_000);
    const probe = FakeWebSocket.last;
    probe.accept();
    await flush();
    expect(probe.frames('subscribe')).toMatchObject([{ channel: 'jobs.J1', since: 1 }]);
    expect(es.readyState).not.toBe(2); // SSE stays until the WebSocket caught up
    es.push('job:update', jobUpdate('J1', 2, 20));
    probe.ackSubscribes(true);
    probe.push(jobUpdate('J1', 2, 20));
    probe.push(jobUpdate('J1', 3, 30));
    await flush();
    expect(es.readyState).toBe(2);
    expect(client.state).toBe('open');
    expect(client.transport).toBe('websocket');
    expect(seen).toEqual([1, 2, 3]);
    expect(states).toEqual(['fallback-sse', 'open']);
  });

  it('falls back at once when the page forbids WebSocket (the constructor throws, or there is none)', async () => {
    class Forbidden {
      constructor() {
        throw new Error('SecurityError: refused by Content-Security-Policy');
      }
    }
    const { client } = start({ WebSocket: Forbidden as never, fallbackAfterFailures: 3 });
    client.subscribe('jobs.J1', () => {});
    await flush();
    expect(FakeEventSource.instances).toHaveLength(1);
    client.close();
    FakeEventSource.reset();
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket;
    try {
      const none = start({ WebSocket: undefined });
      expect(none.client.state).toBe('fallback-sse');
      none.client.subscribe('jobs.J1', () => {});
      await timers.advance(0);
      expect(FakeEventSource.instances).toHaveLength(1);
    } finally {
      if (saved !== undefined) g.WebSocket = saved;
    }
  });

  it('reopens the stream with the new channel list when the app subscribes on SSE', async () => {
    const { client } = start({ fallbackAfterFailures: 1 });
    client.subscribe('jobs.J1', () => {});
    await flush();
    FakeWebSocket.last.refuse();
    await flush();
    FakeEventSource.last.accept();
    await flush();
    client.subscribe('jobs.J2', () => {});
    await timers.advance(0);
    expect(FakeEventSource.last.params.get('channels')).toBe('jobs.J1,jobs.J2');
  });

  it('surfaces an SSE recovery event like recovered: false', async () => {
    const { client } = start({ fallbackAfterFailures: 1 });
    const failed: string[] = [];
    client.subscribe('jobs.J1', () => {}, { onRecoveryFailed: () => failed.push('J1') });
    await flush();
    FakeWebSocket.last.refuse();
    await flush();
    FakeEventSource.last.accept();
    FakeEventSource.last.push('recovery', { event: 'recovery', channel: 'jobs.J1', recovered: false });
    await flush();
    expect(failed).toEqual(['J1']);
  });

  it('opens a new stream with a fresh token after the browser gave up on one', async () => {
    let n = 0;
    const { client } = start({ fallbackAfterFailures: 1, token: () => `T${String(++n)}` });
    client.subscribe('jobs.J1', () => {});
    await flush();
    FakeWebSocket.last.refuse();
    await flush();
    FakeEventSource.last.accept();
    await flush();
    FakeEventSource.last.refuse();
    await flush();
    expect(client.state).toBe('reconnecting');
    await timers.advance(1000);
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(FakeEventSource.last.params.get('token')).toBe('T3');
  });
});

describe('presence', () => {
  const member = (userId: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    userId,
    name: userId,
    color: '#FF6B6B',
    lastSeen: '2026-11-26T10:00:00.000Z',
    ...extra,
  });

  it('keeps a live members map with join, update and leave events', async () => {
    const { client } = start();
    await flush();
    const ws = await openSocket();
    const doc = client.joinDocument('D1');
    await flush();
    const events: string[] = [];
    doc.on('join', (m) => events.push(`join:${m.userId}`));
    doc.on('update', (m) => events.push(`update:${m.userId}:${String(m.cursor?.x)}`));
    doc.on('leave', (m) => events.push(`leave:${m.userId}`));
    ws.push({ event: 'subscribed', channel: 'presence.D1', requestId: ws.frames('subscribe')[0]?.['requestId'] });
    ws.push({ event: 'presence:snapshot', channel: 'presence.D1', members: [member('me')] });
    ws.push({ event: 'presence:user-joined', channel: 'presence.D1', member: member('bob') });
    ws.push({ event: 'presence:update', channel: 'presence.D1', userId: 'bob', cursor: { x: 5, y: 6 }, lastSeen: '2026-11-26T10:00:01.000Z' });
    await flush();
    expect(doc.members.get('bob')?.cursor).toEqual({ x: 5, y: 6 });
    ws.push({ event: 'presence:user-left', channel: 'presence.D1', userId: 'bob' });
    await flush();
    expect([...doc.members.keys()]).toEqual(['me']);
    expect(events).toEqual(['join:me', 'join:bob', 'update:bob:5', 'leave:bob']);
  });

  it('sends at most one cursor update per animation frame, the latest, and never faster than the minimum interval', async () => {
    const { client } = start({ presenceMinIntervalMs: 60 });
    await flush();
    const ws = await openSocket();
    const doc = client.joinDocument('D1');
    await flush();
    ws.ackSubscribes();
    await flush();
    for (let x = 0; x < 10; x++) doc.updateCursor({ x, y: 1 });
    doc.updateSelection({ slideId: 's1' });
    await paint();
    expect(ws.frames('presence')).toEqual([{ action: 'presence', documentId: 'D1', cursor: { x: 9, y: 1 }, selection: { slideId: 's1' } }]);
    doc.updateCursor({ x: 10, y: 1 });
    await paint();
    expect(ws.frames('presence')).toHaveLength(1); // within 60 ms of the last send: waits
    await timers.advance(60);
    expect(ws.frames('presence').at(-1)).toEqual({ action: 'presence', documentId: 'D1', cursor: { x: 10, y: 1 } });
  });

  it('rejoins after a reconnect and shows this user\'s cursor again', async () => {
    const { client } = start();
    await flush();
    const first = await openSocket();
    const doc = client.joinDocument('D1');
    await flush();
    first.ackSubscribes();
    await flush();
    doc.updateCursor({ x: 3, y: 4 });
    await paint();
    first.drop();
    await timers.advance(1000);
    const second = FakeWebSocket.last;
    second.accept();
    await flush();
    expect(second.frames('subscribe')).toMatchObject([{ channel: 'presence.D1' }]);
    second.ackSubscribes();
    await flush();
    await paint();
    expect(second.frames('presence')).toEqual([{ action: 'presence', documentId: 'D1', cursor: { x: 3, y: 4 } }]);
  });

  it('empties the members map on the SSE fallback, where presence is not available', async () => {
    const { client } = start({ fallbackAfterFailures: 1 });
    await flush();
    const ws = await openSocket();
    const doc = client.joinDocument('D1');
    await flush();
    ws.push({ event: 'presence:snapshot', channel: 'presence.D1', members: [member('me'), member('bob')] });
    await flush();
    expect(doc.members.size).toBe(2);
    ws.drop();
    await timers.advance(1000);
    FakeWebSocket.last.refuse();
    await flush();
    expect(doc.members.size).toBe(0);
  });

  it('reports a refused join on the document', async () => {
    const { client } = start();
    await flush();
    const ws = await openSocket();
    const doc = client.joinDocument('D1');
    const errors: string[] = [];
    doc.on('error', (e) => errors.push(String(e.code)));
    await flush();
    const frame = ws.frames('subscribe')[0];
    ws.push({ event: 'error', code: 'PERMISSION_DENIED', message: 'no role', channel: 'presence.D1', requestId: frame?.['requestId'], timestamp: new Date().toISOString() });
    await flush();
    expect(errors).toEqual(['PERMISSION_DENIED']);
  });

  it('pauses presence sends for as long as the server asks after a rate limit', async () => {
    const { client } = start({ presenceMinIntervalMs: 60 });
    await flush();
    const ws = await openSocket();
    const doc = client.joinDocument('D1');
    await flush();
    ws.push({ event: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retryAfterMs: 500, timestamp: new Date().toISOString() });
    doc.updateCursor({ x: 1, y: 1 });
    await paint();
    await timers.advance(400);
    expect(ws.frames('presence')).toHaveLength(0);
    await timers.advance(100);
    expect(ws.frames('presence')).toHaveLength(1);
  });
});

describe('publish', () => {
  it('resolves with the offset and counts it as seen, so the next event is not held as a gap', async () => {
    const { client } = start();
    const seen: number[] = [];
    client.subscribe('docs.D1', (m) => seen.push(m.offset));
    await flush();
    const ws = await openSocket();
    ws.push({ event: 'doc:event', channel: 'docs.D1', offset: 1, userId: 'bob', data: {} });
    const published = client.publish('docs.D1', { op: 'x' });
    await flush();
    const frame = ws.frames('publish')[0];
    expect(frame).toMatchObject({ channel: 'docs.D1', data: { op: 'x' } });
    ws.push({ event: 'published', channel: 'docs.D1', offset: 2, requestId: frame?.['requestId'] });
    await expect(published).resolves.toEqual({ offset: 2 });
    ws.push({ event: 'doc:event', channel: 'docs.D1', offset: 3, userId: 'bob', data: {} });
    await flush();
    expect(seen).toEqual([1, 3]);
  });

  it('rejects with the server\'s error code', async () => {
    const { client } = start();
    await flush();
    const ws = await openSocket();
    const published = client.publish('docs.D1', {});
    await flush();
    const frame = ws.frames('publish')[0];
    ws.push({ event: 'error', code: 'PERMISSION_DENIED', message: 'viewer', channel: 'docs.D1', requestId: frame?.['requestId'], timestamp: new Date().toISOString() });
    await expect(published).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('refuses on the SSE fallback, which is receive only', async () => {
    const { client } = start({ fallbackAfterFailures: 1 });
    await flush();
    FakeWebSocket.last.refuse();
    await flush();
    await expect(client.publish('docs.D1', {})).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });
});
