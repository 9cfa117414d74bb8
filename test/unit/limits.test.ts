/**
 * Abuse limits as the handlers apply them: the per-connection message bucket with warnings and
 * close, per-IP connections per minute, per-user connections and subscriptions, and failing
 * open when the limiter cannot answer. Memory engines and a fake clock; the Redis engines pass
 * the same contract suites (test/contract/rate-limiter.test.ts, slot-limiter.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemoryPresenceStore } from '../../functions/adapters/memory/presence-store.ts';
import { MemoryRateLimiter } from '../../functions/adapters/memory/rate-limiter.ts';
import { MemorySlotLimiter } from '../../functions/adapters/memory/slot-limiter.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { ChannelAuthorizer } from '../../functions/domain/authorization.ts';
import { ConnectionService } from '../../functions/domain/connections.ts';
import { Delivery } from '../../functions/domain/delivery.ts';
import { AbuseLimits, DEFAULT_LIMITS, type LimitsConfig } from '../../functions/domain/limits.ts';
import { ServerMessageSchema } from '../../functions/domain/messages.ts';
import { PresenceUnavailableError, silentLog, type RateLimiter, type SlotLimiter } from '../../functions/domain/ports.ts';
import { PresenceService } from '../../functions/domain/presence.ts';
import { MessageRouter, type ConnectionContext } from '../../functions/domain/router.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics } from './domain-fakes.ts';

/** Keeps every post, also after a close, and records DeleteConnection calls. */
class RecordingGateway extends MemoryConnectionGateway {
  readonly posted: { connectionId: string; message: Record<string, unknown> }[] = [];
  readonly deleted: string[] = [];

  override async post(connectionId: string, payload: string) {
    this.posted.push({ connectionId, message: JSON.parse(payload) as Record<string, unknown> });
    return super.post(connectionId, payload);
  }

  override async disconnect(connectionId: string): Promise<void> {
    this.deleted.push(connectionId);
    return super.disconnect(connectionId);
  }
}

const down = new PresenceUnavailableError({ cause: new Error('ECONNREFUSED') });
const brokenLimiter: RateLimiter = { take: () => Promise.reject(down) };
const brokenSlots: SlotLimiter = { acquire: () => Promise.reject(down), release: () => Promise.reject(down), releasePrefix: () => Promise.reject(down) };

function setup(options: { config?: Partial<LimitsConfig>; rateLimiter?: RateLimiter; slots?: SlotLimiter } = {}) {
  const clock = new FakeClock(Date.UTC(2030, 0, 1, 12, 0, 0));
  const metrics = new RecordingMetrics();
  const warnings: { message: string; attributes?: Record<string, unknown> }[] = [];
  const log = { ...silentLog, warn: (message: string, attributes?: Record<string, unknown>) => warnings.push({ message, ...(attributes ? { attributes } : {}) }) };
  const limits = new AbuseLimits(
    { rateLimiter: options.rateLimiter ?? new MemoryRateLimiter({ clock }), slots: options.slots ?? new MemorySlotLimiter({ clock }), clock, log, metrics },
    options.config,
  );
  const subscriptions = new MemorySubscriptionStore({ clock });
  const connections = new MemoryConnectionStore({ clock });
  const channels = new MemoryChannelStore({ clock });
  const gateway = new RecordingGateway();
  const delivery = new Delivery({ gateway, subscriptions, connections, clock, log: silentLog, metrics });
  const presence = new PresenceService({
    store: new MemoryPresenceStore({ clock }),
    limiter: new MemoryRateLimiter({ clock }),
    subscriptions,
    gateway,
    delivery,
    log: silentLog,
    metrics,
  });
  const router = new MessageRouter({
    subscriptions,
    channels,
    gateway,
    authorizer: new ChannelAuthorizer({ channels, documentRoles: { roleOf: async () => 'editor' } }),
    clock,
    log,
    metrics,
    presence,
    limits,
  });
  const service = new ConnectionService({ connections, subscriptions, log, metrics, limits });
  const ctx = (connectionId = 'conn-a', userId = 'alice'): ConnectionContext => {
    gateway.open(connectionId);
    return { connectionId, connectedAt: clock.now(), identity: { userId } };
  };
  const repliesTo = (connectionId: string) => gateway.posted.filter((p) => p.connectionId === connectionId).map((p) => p.message);
  return { clock, metrics, warnings, limits, subscriptions, connections, gateway, router, service, ctx, repliesTo };
}

const ping = (n: number) => JSON.stringify({ action: 'ping', requestId: `r${n}` });

describe('abuse limits', () => {
  it('uses the seed numbers by default: bursts of 100, 10 a second, 100 connections per IP a minute, 20 per user', () => {
    expect(DEFAULT_LIMITS).toMatchObject({ messageBurst: 100, messagesPerSecond: 10, connectionsPerIpPerMinute: 100, maxConnectionsPerUser: 20 });
  });

  describe('messages per connection', () => {
    it('answers a burst of 100 messages, then refuses the next with RATE_LIMIT_EXCEEDED and retryAfterMs', async () => {
      const { router, ctx, repliesTo, metrics } = setup();
      const c = ctx();
      for (let i = 1; i <= 100; i++) await router.handle(c, ping(i));
      await router.handle(c, ping(101));
      const replies = repliesTo(c.connectionId);
      expect(replies.slice(0, 100).every((r) => r['event'] === 'pong')).toBe(true);
      expect(replies[100]).toMatchObject({ event: 'error', code: 'RATE_LIMIT_EXCEEDED', requestId: 'r101', retryAfterMs: 100 });
      expect(ServerMessageSchema.safeParse(replies[100]).success).toBe(true);
      expect(metrics.total('MessagesRateLimited')).toBe(1);
    });

    it('refills 10 tokens a second: after retryAfterMs the connection is answered again', async () => {
      const { router, ctx, repliesTo, clock } = setup();
      const c = ctx();
      for (let i = 1; i <= 101; i++) await router.handle(c, ping(i));
      clock.nowMs += 100;
      await router.handle(c, ping(102));
      expect(repliesTo(c.connectionId).at(-1)).toMatchObject({ event: 'pong', requestId: 'r102' });
    });

    it('counts garbage too: a flood of invalid frames is limited like valid ones', async () => {
      const { router, ctx, repliesTo } = setup({ config: { messageBurst: 3 } });
      const c = ctx();
      for (let i = 0; i < 4; i++) await router.handle(c, 'not json');
      expect(repliesTo(c.connectionId).map((r) => r['code'])).toStrictEqual(['INVALID_MESSAGE', 'INVALID_MESSAGE', 'INVALID_MESSAGE', 'RATE_LIMIT_EXCEEDED']);
    });

    it('keeps connections independent', async () => {
      const { router, ctx, repliesTo } = setup({ config: { messageBurst: 1 } });
      const a = ctx('conn-a');
      const b = ctx('conn-b');
      await router.handle(a, ping(1));
      await router.handle(a, ping(2));
      await router.handle(b, ping(3));
      expect(repliesTo('conn-a').map((r) => r['event'])).toStrictEqual(['pong', 'error']);
      expect(repliesTo('conn-b').map((r) => r['event'])).toStrictEqual(['pong']);
    });

    it('closes a connection that keeps hammering after 10 warnings, telling it why first', async () => {
      const { router, ctx, repliesTo, gateway, metrics } = setup({ config: { messageBurst: 1 } });
      const c = ctx();
      await router.handle(c, ping(0));
      for (let i = 1; i <= 10; i++) await router.handle(c, ping(i));
      expect(gateway.deleted).toStrictEqual([]);
      await router.handle(c, ping(11));
      const last = repliesTo(c.connectionId).at(-1);
      expect(last).toMatchObject({ event: 'error', code: 'RATE_LIMIT_EXCEEDED', requestId: 'r11' });
      expect(String(last?.['message'])).toContain('closed');
      expect(gateway.deleted).toStrictEqual([c.connectionId]);
      expect(metrics.total('ConnectionsClosedForFlooding')).toBe(1);
    });

    it('does not close a client that slows down after its warnings (warnings refill over a minute)', async () => {
      const { router, ctx, gateway, clock } = setup({ config: { messageBurst: 1, messagesPerSecond: 1 } });
      const c = ctx();
      for (let round = 0; round < 30; round++) {
        await router.handle(c, ping(round * 2));
        await router.handle(c, ping(round * 2 + 1)); // one warning per round
        clock.nowMs += 6_000; // ... every 6 s: 10 a minute, what the warnings refill
      }
      expect(gateway.deleted).toStrictEqual([]);
    });

    it('counts presence updates in their own bucket (20 a second), and their warnings towards the close', async () => {
      const { router, ctx, repliesTo, gateway, clock } = setup({ config: { messageBurst: 5 } });
      const c = ctx();
      await router.handle(c, JSON.stringify({ action: 'subscribe', channel: 'presence.D1' }));
      const update = (x: number) => JSON.stringify({ action: 'presence', documentId: 'D1', cursor: { x, y: 0 } });
      // 20 updates pass although the message bucket holds 5: they do not take from it.
      for (let i = 0; i < 20; i++) await router.handle(c, update(i));
      expect(repliesTo(c.connectionId).filter((r) => r['event'] === 'error')).toStrictEqual([]);
      // A client that ignores the once-a-second warning is closed after about 12 s: 10 warnings,
      // plus what they refill meanwhile (10 a minute).
      let seconds = 0;
      while (gateway.deleted.length === 0 && seconds < 60) {
        for (let i = 0; i < 25 && gateway.deleted.length === 0; i++) await router.handle(c, update(i));
        clock.nowMs += 1_000;
        seconds++;
      }
      expect(gateway.deleted).toStrictEqual([c.connectionId]);
      expect(seconds).toBe(12);
      expect(String(repliesTo(c.connectionId).at(-1)?.['message'])).toContain('closed');
    });

    it('exempts only valid presence updates: a malformed one takes a token like any frame', async () => {
      const { router, ctx, repliesTo } = setup({ config: { messageBurst: 2 } });
      const c = ctx();
      for (let i = 0; i < 3; i++) await router.handle(c, JSON.stringify({ action: 'presence', documentId: '../etc', cursor: 'x' }));
      expect(repliesTo(c.connectionId).map((r) => r['code'])).toStrictEqual(['INVALID_MESSAGE', 'INVALID_MESSAGE', 'RATE_LIMIT_EXCEEDED']);
    });

    it('fails open when the limiter is down: messages are answered, counted and logged', async () => {
      const { router, ctx, repliesTo, metrics, warnings } = setup({ rateLimiter: brokenLimiter, config: { messageBurst: 1 } });
      const c = ctx();
      for (let i = 0; i < 3; i++) await router.handle(c, ping(i));
      expect(repliesTo(c.connectionId).map((r) => r['event'])).toStrictEqual(['pong', 'pong', 'pong']);
      expect(metrics.total('RateLimitFailOpen')).toBe(3);
      expect(warnings.some((w) => w.message.includes('letting the request through'))).toBe(true);
    });
  });

  describe('subscriptions per user', () => {
    it('refuses a subscription beyond the user limit across connections, and frees it on unsubscribe', async () => {
      const { router, ctx, repliesTo } = setup({ config: { maxSubscriptionsPerUser: 3 } });
      const a = ctx('conn-a');
      const b = ctx('conn-b');
      await router.handle(a, JSON.stringify({ action: 'subscribe', channel: 'user.alice' }));
      await router.handle(a, JSON.stringify({ action: 'subscribe', channel: 'docs.D1' }));
      await router.handle(b, JSON.stringify({ action: 'subscribe', channel: 'user.alice' }));
      await router.handle(b, JSON.stringify({ action: 'subscribe', channel: 'docs.D2', requestId: 'over' }));
      expect(repliesTo('conn-b').at(-1)).toMatchObject({ event: 'error', code: 'RATE_LIMIT_EXCEEDED', channel: 'docs.D2', requestId: 'over' });
      // A repeated subscription is not a new one.
      await router.handle(a, JSON.stringify({ action: 'subscribe', channel: 'docs.D1', requestId: 'again' }));
      expect(repliesTo('conn-a').at(-1)).toMatchObject({ event: 'subscribed', requestId: 'again' });
      await router.handle(a, JSON.stringify({ action: 'unsubscribe', channel: 'docs.D1' }));
      await router.handle(b, JSON.stringify({ action: 'subscribe', channel: 'docs.D2', requestId: 'now' }));
      expect(repliesTo('conn-b').at(-1)).toMatchObject({ event: 'subscribed', requestId: 'now' });
    });

    it('frees the subscriptions of a connection that disconnects', async () => {
      const { router, ctx, repliesTo, service } = setup({ config: { maxSubscriptionsPerUser: 2 } });
      const a = ctx('conn-a');
      await service.connect({ connectionId: 'conn-a', identity: { userId: 'alice' }, connectedAt: a.connectedAt });
      await router.handle(a, JSON.stringify({ action: 'subscribe', channel: 'docs.D1' }));
      await router.handle(a, JSON.stringify({ action: 'subscribe', channel: 'docs.D2' }));
      await service.disconnect('conn-a'); // no userId from the event: read from the record
      const b = ctx('conn-b');
      await router.handle(b, JSON.stringify({ action: 'subscribe', channel: 'docs.D3' }));
      await router.handle(b, JSON.stringify({ action: 'subscribe', channel: 'docs.D4' }));
      expect(repliesTo('conn-b').map((r) => r['event'])).toStrictEqual(['subscribed', 'subscribed']);
    });

    it('frees them on $disconnect even when a delivery that found the connection gone removed its subscriptions first', async () => {
      const { router, ctx, repliesTo, service, subscriptions } = setup({ config: { maxSubscriptionsPerUser: 1 } });
      const a = ctx('conn-a');
      await router.handle(a, JSON.stringify({ action: 'subscribe', channel: 'docs.D1' }));
      await subscriptions.removeConnection('conn-a'); // a 410 prune (Delivery) before $disconnect
      await service.disconnect('conn-a', undefined, 'alice');
      const b = ctx('conn-b');
      await router.handle(b, JSON.stringify({ action: 'subscribe', channel: 'docs.D2' }));
      expect(repliesTo('conn-b').map((r) => r['event'])).toStrictEqual(['subscribed']);
    });

    it('refuses a flood of subscribes beyond the per-connection limit without holding user slots', async () => {
      const { router, ctx, repliesTo } = setup({ config: { maxSubscriptionsPerUser: 500 } });
      const a = ctx('conn-a');
      for (let i = 0; i < 120; i++) await router.handle(a, JSON.stringify({ action: 'subscribe', channel: `docs.F${i}` }));
      const codes = repliesTo('conn-a').map((r) => r['code'] ?? r['event']);
      expect(codes.filter((c) => c === 'subscribed')).toHaveLength(100);
      expect(codes.slice(100).every((c) => c === 'RATE_LIMIT_EXCEEDED')).toBe(true);
      // The 20 refused ones hold no user slot: another connection still has 400.
      const b = ctx('conn-b');
      for (let i = 0; i < 100; i++) await router.handle(b, JSON.stringify({ action: 'subscribe', channel: `docs.G${i}` }));
      expect(repliesTo('conn-b').every((r) => r['event'] === 'subscribed')).toBe(true);
    });
  });

  describe('connections', () => {
    it('refuses the 101st connection from one IP within a minute, and lets it in again as the minute refills', async () => {
      const { service, clock, metrics } = setup();
      const connect = (i: number) => service.connect({ connectionId: `c${i}`, identity: { userId: `u${i}` }, connectedAt: clock.now(), sourceIp: '198.51.100.7' });
      for (let i = 0; i < 100; i++) expect((await connect(i)).allowed).toBe(true);
      expect(await connect(100)).toMatchObject({ allowed: false, limit: 'ip', retryAfterMs: 600 });
      expect((await service.connect({ connectionId: 'other', identity: { userId: 'x' }, connectedAt: clock.now(), sourceIp: '198.51.100.8' })).allowed).toBe(true);
      clock.nowMs += 600;
      expect((await connect(101)).allowed).toBe(true);
      expect(metrics.total('ConnectionsRefused')).toBe(1);
    });

    it('records nothing for a refused connection', async () => {
      const { service, connections, clock } = setup({ config: { connectionsPerIpPerMinute: 1 } });
      await service.connect({ connectionId: 'c1', identity: { userId: 'alice' }, connectedAt: clock.now(), sourceIp: '198.51.100.7' });
      await service.connect({ connectionId: 'c2', identity: { userId: 'alice' }, connectedAt: clock.now(), sourceIp: '198.51.100.7' });
      expect(await connections.get('c2')).toBeUndefined();
    });

    it('allows 20 open connections per user, and one more once one closes', async () => {
      const { service, clock } = setup();
      const connect = (i: number) => service.connect({ connectionId: `c${i}`, identity: { userId: 'alice' }, connectedAt: clock.now(), sourceIp: `192.0.2.${i}` });
      for (let i = 0; i < 20; i++) expect((await connect(i)).allowed).toBe(true);
      expect(await connect(20)).toStrictEqual({ allowed: false, limit: 'user' });
      expect((await service.connect({ connectionId: 'bob-1', identity: { userId: 'bob' }, connectedAt: clock.now() })).allowed).toBe(true);
      await service.disconnect('c3', undefined, 'alice');
      expect((await connect(21)).allowed).toBe(true);
    });

    it('frees the slot when the connection cannot be recorded (the connect fails)', async () => {
      const { service, connections, clock } = setup({ config: { maxConnectionsPerUser: 1 } });
      const put = connections.put.bind(connections);
      connections.put = () => Promise.reject(new Error('DynamoDB is throttling'));
      await expect(service.connect({ connectionId: 'c1', identity: { userId: 'alice' }, connectedAt: clock.now() })).rejects.toThrow('throttling');
      connections.put = put;
      expect((await service.connect({ connectionId: 'c2', identity: { userId: 'alice' }, connectedAt: clock.now() })).allowed).toBe(true);
    });

    it('frees the slot of a connection whose $disconnect never came once it could no longer be open (2 h)', async () => {
      const { service, clock } = setup({ config: { maxConnectionsPerUser: 1 } });
      await service.connect({ connectionId: 'lost', identity: { userId: 'alice' }, connectedAt: clock.now() });
      expect((await service.connect({ connectionId: 'c2', identity: { userId: 'alice' }, connectedAt: clock.now() })).allowed).toBe(false);
      clock.nowMs += 2 * 3600_000 + 60_000;
      expect((await service.connect({ connectionId: 'c3', identity: { userId: 'alice' }, connectedAt: clock.now() })).allowed).toBe(true);
    });

    it('fails open when the limiters are down: connections are recorded, counted and logged', async () => {
      const { service, connections, clock, metrics } = setup({ rateLimiter: brokenLimiter, slots: brokenSlots });
      expect(await service.connect({ connectionId: 'c1', identity: { userId: 'alice' }, connectedAt: clock.now(), sourceIp: '198.51.100.7' })).toStrictEqual({ allowed: true });
      expect(await connections.get('c1')).toBeDefined();
      await service.disconnect('c1', undefined, 'alice');
      expect(await connections.get('c1')).toBeUndefined();
      expect(metrics.total('RateLimitFailOpen')).toBe(4); // IP, user slot; on disconnect: connection, subscriptions
    });
  });
});
