/**
 * The router's document collaboration: presence on `presence.{id}` (subscribe, `presence`,
 * `ping`, `unsubscribe`, disconnect) and `publish` on `docs.{id}`, end to end through
 * MessageRouter with the memory adapters, as docs/protocol.md specifies them (sections
 * Presence, Document roles, Document events).
 */
import { describe, expect, it, vi } from 'vitest';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemoryDocumentRoleStore } from '../../functions/adapters/memory/document-role-store.ts';
import { MemoryHistoryStore } from '../../functions/adapters/memory/history-store.ts';
import { MemoryPresenceStore } from '../../functions/adapters/memory/presence-store.ts';
import { MemoryRateLimiter } from '../../functions/adapters/memory/rate-limiter.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { ChannelAuthorizer, type DocumentRole } from '../../functions/domain/authorization.ts';
import { ConnectionService } from '../../functions/domain/connections.ts';
import { Delivery } from '../../functions/domain/delivery.ts';
import { LIMITS, ServerMessageSchema } from '../../functions/domain/messages.ts';
import { PresenceUnavailableError, silentLog, type Identity } from '../../functions/domain/ports.ts';
import { PRESENCE_PALETTE, preferredColorIndex } from '../../functions/domain/presence-types.ts';
import { PresenceService } from '../../functions/domain/presence.ts';
import { MessageRouter, type ConnectionContext } from '../../functions/domain/router.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics } from './domain-fakes.ts';

const BASE = Date.UTC(2030, 0, 1, 10, 0, 0);
const TIMEOUT_MS = 30_000;
const iso = (ms: number): string => new Date(ms).toISOString();

type Msg = Record<string, unknown>;

const ALICE: Identity = { userId: 'alice', name: 'Alice', picture: 'https://example.test/alice.png' };
const BOB: Identity = { userId: 'bob', name: 'Bob' };
const CAROL: Identity = { userId: 'carol' };

function setup() {
  const clock = new FakeClock(BASE);
  const subscriptions = new MemorySubscriptionStore({ clock });
  const channels = new MemoryChannelStore({ clock });
  const connections = new MemoryConnectionStore({ clock });
  const history = new MemoryHistoryStore({ clock });
  const roles = new MemoryDocumentRoleStore({ clock });
  const presenceStore = new MemoryPresenceStore({ clock, timeoutMs: TIMEOUT_MS });
  const limiter = new MemoryRateLimiter({ clock });
  const gateway = new MemoryConnectionGateway();
  const metrics = new RecordingMetrics();
  // As wired in functions/wiring/presence.ts: requests deliver through one Delivery whose
  // pruned connections leave presence.
  const delivery = new Delivery({
    gateway,
    subscriptions,
    connections,
    clock,
    log: silentLog,
    metrics,
    afterPrune: (connectionId: string): Promise<void> => presence.leaveAll(connectionId),
  });
  const presence: PresenceService = new PresenceService({ store: presenceStore, limiter, subscriptions, gateway, delivery, log: silentLog, metrics });
  let ids = 0;
  const router = new MessageRouter({
    subscriptions,
    channels,
    gateway,
    authorizer: new ChannelAuthorizer({ channels, documentRoles: roles }),
    clock,
    log: silentLog,
    metrics,
    presence,
    documents: { roles, history, delivery, newId: () => `doc-event-${++ids}` },
  });
  const connectionService = new ConnectionService({ connections, subscriptions, log: silentLog, metrics, presence });

  const grant = (userId: string, role: DocumentRole | null, documentId = 'D1'): Promise<boolean> =>
    roles.setRole(documentId, userId, role, clock.now());

  /** How many of each connection's messages were already handed to the test, by `send` or `inbox`. */
  const seen = new Map<string, Set<number>>();
  const take = (connectionId: string, from = 0): Msg[] => {
    const all = gateway.received(connectionId) as Msg[];
    let marks = seen.get(connectionId);
    if (!marks) seen.set(connectionId, (marks = new Set()));
    const out: Msg[] = [];
    for (let i = from; i < all.length; i++) {
      if (marks.has(i)) continue;
      marks.add(i);
      out.push(all[i] as Msg);
    }
    return out;
  };

  /**
   * An open connection of `identity`. `send` returns what reached it while its frame was
   * handled; `inbox` what reached it since and was not returned yet. Each message is reported once.
   */
  const client = async (connectionId: string, identity: Identity) => {
    const ctx: ConnectionContext = { connectionId, connectedAt: clock.now(), identity };
    gateway.open(connectionId);
    await connectionService.connect({ connectionId, identity, connectedAt: clock.now() });
    return {
      ctx,
      send: async (frame: unknown): Promise<Msg[]> => {
        const before = gateway.received(connectionId).length;
        await router.handle(ctx, typeof frame === 'string' ? frame : JSON.stringify(frame));
        return take(connectionId, before);
      },
      inbox: (): Msg[] => take(connectionId),
    };
  };
  type Client = Awaited<ReturnType<typeof client>>;

  /** A client that subscribed to presence.{documentId}; `replies` are its subscribed and snapshot. */
  const present = async (connectionId: string, identity: Identity, documentId = 'D1'): Promise<Client & { replies: Msg[] }> => {
    const c = await client(connectionId, identity);
    if (!(await roles.roleOf(documentId, identity.userId))) await grant(identity.userId, 'editor', documentId);
    const replies = await c.send({ action: 'subscribe', channel: `presence.${documentId}` });
    expect(replies[0]).toMatchObject({ event: 'subscribed' });
    return { ...c, replies };
  };

  const advance = (ms: number): void => {
    clock.nowMs += ms;
  };

  return { clock, subscriptions, channels, history, roles, presenceStore, limiter, gateway, metrics, router, connectionService, grant, client, present, advance };
}

const userLeft = (userId: string, documentId = 'D1'): Msg => ({ event: 'presence:user-left', channel: `presence.${documentId}`, userId });

describe('MessageRouter: presence', () => {
  describe('subscribe', () => {
    it('answers subscribed, then presence:snapshot with the joiner, and tells the others presence:user-joined', async () => {
      // Prepare
      const { client, present, grant, advance } = setup();
      const bob = await present('c-bob', BOB);
      bob.inbox();
      advance(1000);
      await grant('alice', 'viewer');
      const alice = await client('c-alice', ALICE);
      // Act
      const replies = await alice.send({ action: 'subscribe', channel: 'presence.D1', requestId: 'r1' });
      // Assess
      const aliceMember = { userId: 'alice', name: 'Alice', avatar: 'https://example.test/alice.png', color: expect.any(String), lastSeen: iso(BASE + 1000) };
      expect(replies).toStrictEqual([
        { event: 'subscribed', channel: 'presence.D1', requestId: 'r1' },
        {
          event: 'presence:snapshot',
          channel: 'presence.D1',
          members: [aliceMember, { userId: 'bob', name: 'Bob', color: PRESENCE_PALETTE[preferredColorIndex('bob')], lastSeen: iso(BASE) }],
        },
      ]);
      expect(bob.inbox()).toStrictEqual([{ event: 'presence:user-joined', channel: 'presence.D1', member: aliceMember }]);
      const colors = (replies[1] as { members: { color: string }[] }).members.map((m) => m.color);
      for (const color of colors) expect(PRESENCE_PALETTE).toContain(color);
      expect(new Set(colors).size).toBe(2);
    });

    it('names a member by the user id when the token has no name', async () => {
      const { present, gateway } = setup();
      await present('c-carol', CAROL);
      expect(gateway.received('c-carol')[1]).toStrictEqual({
        event: 'presence:snapshot',
        channel: 'presence.D1',
        members: [{ userId: 'carol', name: 'carol', color: PRESENCE_PALETTE[preferredColorIndex('carol')], lastSeen: iso(BASE) }],
      });
    });

    it('sends no second join for a second tab of the same user, which gets the same color', async () => {
      // Prepare
      const { present, client, gateway } = setup();
      await present('c-alice-1', ALICE);
      const bob = await present('c-bob', BOB);
      bob.inbox();
      const tab2 = await client('c-alice-2', ALICE);
      // Act
      const replies = await tab2.send({ action: 'subscribe', channel: 'presence.D1' });
      // Assess
      expect(bob.inbox()).toStrictEqual([]);
      const firstColor = ((gateway.received('c-alice-1')[1] as { members: { color: string }[] }).members[0] as { color: string }).color;
      expect(replies).toMatchObject([
        { event: 'subscribed', channel: 'presence.D1' },
        { event: 'presence:snapshot', members: [{ userId: 'alice', color: firstColor }, { userId: 'bob' }] },
      ]);
      expect((replies[1] as { members: unknown[] }).members).toHaveLength(2);
    });

    it('refuses presence.D1 without a role: PERMISSION_DENIED, no subscription, nobody told', async () => {
      const { client, present, presenceStore, subscriptions } = setup();
      const bob = await present('c-bob', BOB);
      bob.inbox();
      const alice = await client('c-alice', ALICE);
      expect(await alice.send({ action: 'subscribe', channel: 'presence.D1', requestId: 'r1' })).toMatchObject([
        { event: 'error', code: 'PERMISSION_DENIED', channel: 'presence.D1', requestId: 'r1' },
      ]);
      expect(bob.inbox()).toStrictEqual([]);
      expect(await subscriptions.listByConnection('c-alice')).toStrictEqual([]);
      expect((await presenceStore.members('D1')).map((m) => m.userId)).toStrictEqual(['bob']);
    });
  });

  describe('presence action', () => {
    it('relays presence:update to every other presence subscriber, not to the sender, and answers nothing', async () => {
      // Prepare
      const { present, advance } = setup();
      const alice1 = await present('c-alice-1', ALICE);
      const alice2 = await present('c-alice-2', ALICE);
      const bob = await present('c-bob', BOB);
      alice2.inbox();
      bob.inbox();
      advance(250);
      // Act
      const replies = await alice1.send({
        action: 'presence',
        documentId: 'D1',
        cursor: { x: 10, y: 20 },
        selection: { slideId: 's1', elementId: 'e3', range: { start: 1, end: 4 } },
        requestId: 'p1',
      });
      // Assess
      const update = {
        event: 'presence:update',
        channel: 'presence.D1',
        userId: 'alice',
        cursor: { x: 10, y: 20 },
        selection: { slideId: 's1', elementId: 'e3', range: { start: 1, end: 4 } },
        lastSeen: iso(BASE + 250),
      };
      expect(replies).toStrictEqual([]);
      expect(bob.inbox()).toStrictEqual([update]);
      expect(alice2.inbox()).toStrictEqual([update]);
    });

    it('takes the user from the connection, never from the message', async () => {
      const { present } = setup();
      const alice = await present('c-alice', ALICE);
      const bob = await present('c-bob', BOB);
      bob.inbox();
      await alice.send({ action: 'presence', documentId: 'D1', userId: 'bob', cursor: { x: 1, y: 1 } });
      expect(bob.inbox()).toMatchObject([{ event: 'presence:update', userId: 'alice' }]);
    });

    it('clears the cursor with null: the others get cursor null, and a newcomer\'s snapshot has none', async () => {
      // Prepare
      const { present } = setup();
      const alice = await present('c-alice', ALICE);
      const bob = await present('c-bob', BOB);
      await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: 10, y: 20 }, selection: { slideId: 's1' } });
      bob.inbox();
      // Act
      await alice.send({ action: 'presence', documentId: 'D1', cursor: null });
      // Assess
      expect(bob.inbox()).toStrictEqual([{ event: 'presence:update', channel: 'presence.D1', userId: 'alice', cursor: null, lastSeen: iso(BASE) }]);
      const carol = await present('c-carol', CAROL);
      const snapshot = carol.replies[1] as { members: Msg[] };
      const member = snapshot.members.find((m) => m.userId === 'alice');
      expect(member).not.toHaveProperty('cursor');
      expect(member).toMatchObject({ selection: { slideId: 's1' } });
    });

    it('refuses a presence update for a document the connection has not joined with PERMISSION_DENIED', async () => {
      // Prepare: alice has a role on D2 and is subscribed to docs.D2, but never joined presence.D2.
      const { present, grant } = setup();
      const alice = await present('c-alice', ALICE);
      await grant('alice', 'editor', 'D2');
      await alice.send({ action: 'subscribe', channel: 'docs.D2' });
      const bob = await present('c-bob', BOB, 'D2');
      bob.inbox();
      // Act
      const replies = await alice.send({ action: 'presence', documentId: 'D2', cursor: { x: 1, y: 1 }, requestId: 'p1' });
      // Assess
      expect(replies).toStrictEqual([
        { event: 'error', code: 'PERMISSION_DENIED', message: expect.any(String), channel: 'presence.D2', requestId: 'p1', timestamp: iso(BASE) },
      ]);
      expect(bob.inbox()).toStrictEqual([]);
    });

    it('refuses a malformed presence update with INVALID_MESSAGE', async () => {
      const { present } = setup();
      const alice = await present('c-alice', ALICE);
      expect(await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: 'a', y: 1 }, requestId: 'p1' })).toMatchObject([
        { event: 'error', code: 'INVALID_MESSAGE', requestId: 'p1' },
      ]);
      expect(await alice.send({ action: 'presence', documentId: 'presence.D1', requestId: 'p2' })).toMatchObject([
        { event: 'error', code: 'INVALID_MESSAGE', requestId: 'p2' },
      ]);
    });

    it('drops updates over 20 a second, with one RATE_LIMIT_EXCEEDED a second carrying retryAfterMs', async () => {
      // Prepare
      const { present, advance } = setup();
      const alice = await present('c-alice', ALICE);
      const bob = await present('c-bob', BOB);
      bob.inbox();
      const burst = async (n: number): Promise<Msg[]> => {
        const replies: Msg[] = [];
        for (let i = 0; i < n; i++) replies.push(...(await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: i, y: 0 }, requestId: `p${i}` })));
        return replies;
      };
      // Act
      const first = await burst(25);
      const sameSecond = await burst(5);
      // Assess
      expect(first).toStrictEqual([
        {
          event: 'error',
          code: 'RATE_LIMIT_EXCEEDED',
          message: expect.any(String),
          channel: 'presence.D1',
          requestId: 'p20',
          retryAfterMs: expect.any(Number),
          timestamp: iso(BASE),
        },
      ]);
      expect((first[0] as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
      expect((first[0] as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(1000);
      expect(sameSecond).toStrictEqual([]);
      expect(bob.inbox().map((m) => (m.cursor as { x: number }).x)).toStrictEqual(Array.from({ length: 20 }, (_, i) => i));

      // Act: one second later
      advance(1000);
      const later = await burst(25);
      // Assess: allowed again, and the next burst warns again
      expect(later).toMatchObject([{ event: 'error', code: 'RATE_LIMIT_EXCEEDED', requestId: 'p20' }]);
      expect(bob.inbox()).toHaveLength(20);
    });
  });

  describe('leaving', () => {
    it('sends no user-left when one of two tabs unsubscribes, and user-left to the others when the last does', async () => {
      // Prepare
      const { present } = setup();
      const alice1 = await present('c-alice-1', ALICE);
      const alice2 = await present('c-alice-2', ALICE);
      const bob = await present('c-bob', BOB);
      for (const c of [alice1, alice2, bob]) c.inbox();
      // Act / Assess: the first tab
      expect(await alice1.send({ action: 'unsubscribe', channel: 'presence.D1', requestId: 'u1' })).toStrictEqual([
        { event: 'unsubscribed', channel: 'presence.D1', requestId: 'u1' },
      ]);
      expect(bob.inbox()).toStrictEqual([]);
      // The unsubscribed tab hears nothing more about the document.
      await bob.send({ action: 'presence', documentId: 'D1', cursor: { x: 1, y: 1 } });
      expect(alice1.inbox()).toStrictEqual([]);
      expect(alice2.inbox()).toMatchObject([{ event: 'presence:update', userId: 'bob' }]);
      // Act / Assess: the last tab
      expect(await alice2.send({ action: 'unsubscribe', channel: 'presence.D1' })).toStrictEqual([{ event: 'unsubscribed', channel: 'presence.D1' }]);
      expect(bob.inbox()).toStrictEqual([userLeft('alice')]);
    });

    it('announces user-left to the others when the user disconnects', async () => {
      // Prepare
      const { present, connectionService, presenceStore } = setup();
      await present('c-alice', ALICE);
      const bob = await present('c-bob', BOB);
      bob.inbox();
      // Act
      await connectionService.disconnect('c-alice', { statusCode: 1001 });
      // Assess
      expect(bob.inbox()).toStrictEqual([userLeft('alice')]);
      expect((await presenceStore.members('D1')).map((m) => m.userId)).toStrictEqual(['bob']);
    });

    it('announces a member silent for more than the timeout at the next ping of someone else', async () => {
      // Prepare
      const { present, advance } = setup();
      const alice = await present('c-alice', ALICE);
      const bob = await present('c-bob', BOB);
      alice.inbox();
      bob.inbox();
      advance(15_000);
      await alice.send({ action: 'ping' });
      // Act
      advance(15_001);
      const replies = await alice.send({ action: 'ping', requestId: 'k2' });
      // Assess
      expect(replies).toStrictEqual([{ event: 'pong', requestId: 'k2', timestamp: iso(BASE + 30_001) }, userLeft('bob')]);
    });

    it('announces a silent member at the next presence update of someone else', async () => {
      const { present, advance } = setup();
      const alice = await present('c-alice', ALICE);
      const carol = await present('c-carol', CAROL);
      await present('c-bob', BOB);
      advance(15_000);
      await alice.send({ action: 'ping' });
      await carol.send({ action: 'ping' });
      advance(15_001);
      carol.inbox();
      const replies = await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: 1, y: 1 } });
      expect(carol.inbox()).toStrictEqual([
        { event: 'presence:update', channel: 'presence.D1', userId: 'alice', cursor: { x: 1, y: 1 }, lastSeen: iso(BASE + 30_001) },
        userLeft('bob'),
      ]);
      expect(replies).toStrictEqual([userLeft('bob')]);
    });

    it('keeps a connection that pings every 15 s present long past the timeout', async () => {
      // Prepare
      const { present, advance, presenceStore } = setup();
      const alice = await present('c-alice', ALICE);
      const bob = await present('c-bob', BOB);
      alice.inbox();
      bob.inbox();
      // Act: alice pings for two minutes; bob is silent.
      const heard: Msg[] = [];
      for (let i = 0; i < 8; i++) {
        advance(15_000);
        heard.push(...(await alice.send({ action: 'ping' })).filter((m) => m.event !== 'pong'));
      }
      // Assess: bob went, alice stayed.
      expect(heard).toStrictEqual([userLeft('bob')]);
      expect(await presenceStore.members('D1')).toMatchObject([{ userId: 'alice', lastSeen: iso(BASE + 120_000) }]);
      const carol = await present('c-carol', CAROL);
      const snapshot = carol.replies[1] as { members: Msg[] };
      expect(snapshot.members.map((m) => m.userId)).toStrictEqual(['alice', 'carol']);
      expect(alice.inbox()).toMatchObject([{ event: 'presence:user-joined', member: { userId: 'carol' } }]);
    });

    it('prunes a connection found gone while broadcasting and announces that its user left', async () => {
      // Prepare
      const { present, gateway, subscriptions, presenceStore } = setup();
      const alice = await present('c-alice', ALICE);
      await present('c-bob', BOB);
      const carol = await present('c-carol', CAROL);
      alice.inbox();
      carol.inbox();
      gateway.close('c-bob');
      // Act
      const replies = await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: 3, y: 4 } });
      // Assess
      expect(carol.inbox()).toStrictEqual([
        { event: 'presence:update', channel: 'presence.D1', userId: 'alice', cursor: { x: 3, y: 4 }, lastSeen: iso(BASE) },
        userLeft('bob'),
      ]);
      expect(replies).toStrictEqual([userLeft('bob')]);
      expect(await subscriptions.listByConnection('c-bob')).toStrictEqual([]);
      expect((await presenceStore.members('D1')).map((m) => m.userId)).toStrictEqual(['alice', 'carol']);
    });
  });

  describe('when presence is unavailable', () => {
    it('answers a presence subscribe with PRESENCE_UNAVAILABLE and retryAfterMs, and stores no subscription', async () => {
      // Prepare
      const { client, present, grant, presenceStore, subscriptions } = setup();
      const bob = await present('c-bob', BOB);
      bob.inbox();
      await grant('alice', 'editor');
      const alice = await client('c-alice', ALICE);
      vi.spyOn(presenceStore, 'join').mockRejectedValue(new PresenceUnavailableError({ cause: new Error('ECONNREFUSED 10.0.0.1:6379') }));
      // Act
      const replies = await alice.send({ action: 'subscribe', channel: 'presence.D1', requestId: 'r1' });
      // Assess
      expect(replies).toStrictEqual([
        {
          event: 'error',
          code: 'PRESENCE_UNAVAILABLE',
          message: expect.any(String),
          requestId: 'r1',
          retryAfterMs: expect.any(Number),
          ...(replies[0]?.channel === undefined ? {} : { channel: 'presence.D1' }),
          timestamp: iso(BASE),
        },
      ]);
      expect((replies[0] as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
      expect(JSON.stringify(replies)).not.toMatch(/ECONNREFUSED|6379/);
      expect(await subscriptions.listByConnection('c-alice')).toStrictEqual([]);
      expect((await subscriptions.listByChannel('presence.D1', { limit: 10 })).items.map((s) => s.connectionId)).toStrictEqual(['c-bob']);
      expect(bob.inbox()).toStrictEqual([]);
      // Nothing reaches it later either.
      await bob.send({ action: 'presence', documentId: 'D1', cursor: { x: 1, y: 1 } });
      expect(alice.inbox()).toStrictEqual([]);
    });

    it('names the channel on the PRESENCE_UNAVAILABLE error of a presence subscribe', async () => {
      // docs/protocol.md, Errors: an error carries "the `channel` when one is concerned"; every
      // other refusal of a subscribe names it, so a client can tell which subscription failed.
      const { client, grant, presenceStore } = setup();
      await grant('alice', 'editor');
      const alice = await client('c-alice', ALICE);
      vi.spyOn(presenceStore, 'join').mockRejectedValue(new PresenceUnavailableError());
      expect(await alice.send({ action: 'subscribe', channel: 'presence.D1' })).toMatchObject([
        { event: 'error', code: 'PRESENCE_UNAVAILABLE', channel: 'presence.D1' },
      ]);
    });

    it('keeps a repeated subscription when presence fails on the repeat', async () => {
      const { present, presenceStore, subscriptions } = setup();
      const alice = await present('c-alice', ALICE);
      vi.spyOn(presenceStore, 'join').mockRejectedValueOnce(new PresenceUnavailableError());
      expect(await alice.send({ action: 'subscribe', channel: 'presence.D1' })).toMatchObject([{ event: 'error', code: 'PRESENCE_UNAVAILABLE' }]);
      expect(await subscriptions.listByConnection('c-alice')).toMatchObject([{ channel: 'presence.D1' }]);
    });

    it('still answers pong to a ping', async () => {
      const { present, presenceStore } = setup();
      const alice = await present('c-alice', ALICE);
      vi.spyOn(presenceStore, 'touch').mockRejectedValue(new PresenceUnavailableError());
      expect(await alice.send({ action: 'ping', requestId: 'k1' })).toStrictEqual([{ event: 'pong', requestId: 'k1', timestamp: iso(BASE) }]);
    });

    it('refuses an unsubscribe with PRESENCE_UNAVAILABLE and keeps the subscription, so presence and subscriptions agree', async () => {
      const { present, presenceStore, subscriptions } = setup();
      const alice = await present('c-alice', ALICE);
      vi.spyOn(presenceStore, 'leave').mockRejectedValue(new PresenceUnavailableError());
      expect(await alice.send({ action: 'unsubscribe', channel: 'presence.D1', requestId: 'u1' })).toMatchObject([
        { event: 'error', code: 'PRESENCE_UNAVAILABLE', channel: 'presence.D1', requestId: 'u1', retryAfterMs: expect.any(Number) },
      ]);
      expect((await subscriptions.listByConnection('c-alice')).map((s) => s.channel)).toContain('presence.D1');
    });

    it('lets a member whose unsubscribe failed while presence was down leave when it tries again', async () => {
      // A member must never stay present with no subscription: its pings would keep it there.
      const { present, presenceStore, advance } = setup();
      const alice = await present('c-alice', ALICE);
      const bob = await present('c-bob', BOB);
      vi.spyOn(presenceStore, 'leave').mockRejectedValueOnce(new PresenceUnavailableError());
      await alice.send({ action: 'unsubscribe', channel: 'presence.D1' });
      bob.inbox();
      // Act: presence is back; the client retries (retryAfterMs)
      advance(2_000);
      expect(await alice.send({ action: 'unsubscribe', channel: 'presence.D1', requestId: 'u2' })).toStrictEqual([
        { event: 'unsubscribed', channel: 'presence.D1', requestId: 'u2' },
      ]);
      // Assess
      expect((await presenceStore.members('D1')).map((m) => m.userId)).toStrictEqual(['bob']);
      expect(bob.inbox()).toContainEqual(userLeft('alice'));
    });

    it('answers a presence update with PRESENCE_UNAVAILABLE', async () => {
      const { present, presenceStore } = setup();
      const alice = await present('c-alice', ALICE);
      vi.spyOn(presenceStore, 'update').mockRejectedValue(new PresenceUnavailableError());
      expect(await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: 1, y: 1 }, requestId: 'p1' })).toMatchObject([
        { event: 'error', code: 'PRESENCE_UNAVAILABLE', requestId: 'p1', retryAfterMs: expect.any(Number) },
      ]);
    });

    it('keeps document events flowing', async () => {
      const { present, grant, client, presenceStore } = setup();
      const alice = await present('c-alice', ALICE);
      await grant('bob', 'viewer');
      const bob = await client('c-bob', BOB);
      await bob.send({ action: 'subscribe', channel: 'docs.D1' });
      vi.spyOn(presenceStore, 'join').mockRejectedValue(new PresenceUnavailableError());
      vi.spyOn(presenceStore, 'touch').mockRejectedValue(new PresenceUnavailableError());
      expect(await alice.send({ action: 'publish', channel: 'docs.D1', data: { n: 1 }, requestId: 'r1' })).toMatchObject([
        { event: 'published', offset: 1 },
      ]);
      expect(bob.inbox()).toMatchObject([{ event: 'doc:event', offset: 1 }]);
    });
  });

  it('sends only messages that match the server message schema', async () => {
    const { present, gateway, advance } = setup();
    const alice = await present('c-alice', ALICE);
    const bob = await present('c-bob', BOB);
    await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: 1, y: 2 }, selection: { slideId: 's1' } });
    await alice.send({ action: 'presence', documentId: 'D1', cursor: null, selection: null });
    for (let i = 0; i < 22; i++) await alice.send({ action: 'presence', documentId: 'D1', cursor: { x: i, y: i } });
    await alice.send({ action: 'publish', channel: 'docs.D1', data: 'AAEC' });
    await bob.send({ action: 'unsubscribe', channel: 'presence.D1' });
    advance(TIMEOUT_MS + 1);
    await alice.send({ action: 'ping' });
    const received = [...gateway.received('c-alice'), ...gateway.received('c-bob')];
    expect(received.length).toBeGreaterThan(20);
    for (const message of received) expect(ServerMessageSchema.safeParse(message).success).toBe(true);
  });
});

describe('MessageRouter: publish', () => {
  /** alice (role given) with two tabs on docs.D1, bob a viewer subscribed too. */
  async function collaborators(aliceRole: DocumentRole = 'editor') {
    const s = setup();
    await s.grant('alice', aliceRole);
    await s.grant('bob', 'viewer');
    const alice1 = await s.client('c-alice-1', ALICE);
    const alice2 = await s.client('c-alice-2', ALICE);
    const bob = await s.client('c-bob', BOB);
    for (const c of [alice1, alice2, bob]) expect(await c.send({ action: 'subscribe', channel: 'docs.D1' })).toMatchObject([{ event: 'subscribed' }]);
    return { ...s, alice1, alice2, bob };
  }

  it.each<DocumentRole>(['owner', 'editor'])('lets an %s publish: published to the sender, doc:event to every other subscriber', async (role) => {
    // Prepare
    const { alice1, alice2, bob, metrics } = await collaborators(role);
    // Act
    const replies = await alice1.send({ action: 'publish', channel: 'docs.D1', data: { update: 'AAECAwQ=' }, requestId: 'r4' });
    // Assess
    expect(replies).toStrictEqual([{ event: 'published', channel: 'docs.D1', offset: 1, requestId: 'r4' }]);
    const event = { event: 'doc:event', channel: 'docs.D1', offset: 1, userId: 'alice', data: { update: 'AAECAwQ=' } };
    expect(bob.inbox()).toStrictEqual([event]);
    expect(alice2.inbox()).toStrictEqual([event]);
    expect(alice1.inbox()).toStrictEqual([]);
    expect(metrics.total('DocumentEventsPublished')).toBe(1);
  });

  it('answers published without a requestId when none was given', async () => {
    const { alice1 } = await collaborators();
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', data: 1 })).toStrictEqual([{ event: 'published', channel: 'docs.D1', offset: 1 }]);
  });

  it('gives consecutive offsets per channel and keeps the events in history', async () => {
    // Prepare
    const { alice1, alice2, bob, grant, client, history } = await collaborators();
    await grant('bob', 'editor', 'D2');
    const bobD2 = await client('c-bob-d2', BOB);
    // Act
    const offsets: unknown[] = [];
    for (let i = 1; i <= 3; i++) offsets.push(...(await alice1.send({ action: 'publish', channel: 'docs.D1', data: { n: i } })).map((m) => m.offset));
    offsets.push(...(await alice2.send({ action: 'publish', channel: 'docs.D1', data: { n: 4 } })).map((m) => m.offset));
    const otherDoc = await bobD2.send({ action: 'publish', channel: 'docs.D2', data: { n: 1 } });
    // Assess
    expect(offsets).toStrictEqual([1, 2, 3, 4]);
    expect(otherDoc).toMatchObject([{ event: 'published', channel: 'docs.D2', offset: 1 }]);
    expect(bob.inbox().map((m) => m.offset)).toStrictEqual([1, 2, 3, 4]);
    expect(alice1.inbox()).toStrictEqual([{ event: 'doc:event', channel: 'docs.D1', offset: 4, userId: 'alice', data: { n: 4 } }]);
    expect(await history.readAfter('docs.D1', 0, 10)).toStrictEqual(
      [1, 2, 3, 4].map((n) => ({ event: 'doc:event', channel: 'docs.D1', offset: n, userId: 'alice', data: { n } })),
    );
    expect(await history.readAfter('docs.D1', 2, 10)).toHaveLength(2);
  });

  it.each<[string, DocumentRole | null]>([
    ['a viewer', 'viewer'],
    ['a commenter', 'commenter'],
    ['a user without a role', null],
  ])('refuses %s with PERMISSION_DENIED, relays and keeps nothing', async (_label, role) => {
    // Prepare
    const { grant, client, bob, history, alice1 } = await collaborators();
    if (role) await grant('carol', role);
    const carol = await client('c-carol', CAROL);
    // Act
    const replies = await carol.send({ action: 'publish', channel: 'docs.D1', data: { x: 1 }, requestId: 'r1' });
    // Assess
    expect(replies).toStrictEqual([
      { event: 'error', code: 'PERMISSION_DENIED', message: expect.any(String), channel: 'docs.D1', requestId: 'r1', timestamp: iso(BASE) },
    ]);
    expect(bob.inbox()).toStrictEqual([]);
    expect(await history.readAfter('docs.D1', 0, 10)).toStrictEqual([]);
    // No offset was taken.
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', data: 1 })).toMatchObject([{ offset: 1 }]);
  });

  it('refuses an editor demoted to viewer', async () => {
    const { alice1, grant, advance } = await collaborators();
    advance(1);
    await grant('alice', 'viewer');
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', data: 1 })).toMatchObject([{ event: 'error', code: 'PERMISSION_DENIED' }]);
  });

  it.each(['jobs.J1', 'user.alice', 'presence.D1'])('refuses a publish on %s with PERMISSION_DENIED', async (channel) => {
    const { alice1, history } = await collaborators('owner');
    expect(await alice1.send({ action: 'publish', channel, data: { x: 1 }, requestId: 'r1' })).toStrictEqual([
      { event: 'error', code: 'PERMISSION_DENIED', message: expect.any(String), channel, requestId: 'r1', timestamp: iso(BASE) },
    ]);
    expect(await history.readAfter(channel, 0, 10)).toStrictEqual([]);
  });

  it.each(['foo.D1', 'docs.', 'docs.a.b', 'docs.caf\u00e9'])('refuses a publish on the unknown channel %j with CHANNEL_NOT_FOUND', async (channel) => {
    const { alice1 } = await collaborators('owner');
    expect(await alice1.send({ action: 'publish', channel, data: 1, requestId: 'r1' })).toStrictEqual([
      { event: 'error', code: 'CHANNEL_NOT_FOUND', message: expect.any(String), channel, requestId: 'r1', timestamp: iso(BASE) },
    ]);
  });

  it('refuses a publish without data with INVALID_MESSAGE', async () => {
    const { alice1, bob } = await collaborators();
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', requestId: 'r1' })).toMatchObject([
      { event: 'error', code: 'INVALID_MESSAGE', requestId: 'r1' },
    ]);
    expect(bob.inbox()).toStrictEqual([]);
  });

  it('refuses data over 32 KB with INVALID_MESSAGE and accepts exactly 32 KB', async () => {
    // Prepare: a JSON string of n characters serializes to n + 2 bytes.
    const { alice1, bob } = await collaborators();
    const exact = 'a'.repeat(LIMITS.maxPublishDataBytes - 2);
    const over = 'a'.repeat(LIMITS.maxPublishDataBytes - 1);
    // Act / Assess
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', data: over, requestId: 'big' })).toMatchObject([
      { event: 'error', code: 'INVALID_MESSAGE', requestId: 'big' },
    ]);
    expect(bob.inbox()).toStrictEqual([]);
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', data: exact, requestId: 'ok' })).toMatchObject([
      { event: 'published', offset: 1, requestId: 'ok' },
    ]);
    expect(bob.inbox()).toMatchObject([{ event: 'doc:event', offset: 1, data: exact }]);
  });

  it('measures the 32 KB of data in UTF-8 bytes', async () => {
    // 11,000 euro signs: 33,000 bytes, 11,002 characters once serialized.
    const { alice1 } = await collaborators();
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', data: '\u20ac'.repeat(11_000) })).toMatchObject([
      { event: 'error', code: 'INVALID_MESSAGE' },
    ]);
  });

  it.each<[string, unknown]>([
    ['a base64 string', 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMw=='],
    ['an object with a base64 update', { update: 'AAECAwQ=', clientId: 42 }],
    ['null', null],
    ['an array', [1, 'two', { three: 3 }]],
    ['unicode text', 'caf\u00e9 \u20ac \u{1F600}'],
  ])('relays %s as data unchanged', async (_label, data) => {
    const { alice1, bob, history } = await collaborators();
    await alice1.send({ action: 'publish', channel: 'docs.D1', data });
    expect(bob.inbox()).toStrictEqual([{ event: 'doc:event', channel: 'docs.D1', offset: 1, userId: 'alice', data }]);
    expect(await history.readAfter('docs.D1', 0, 1)).toMatchObject([{ data }]);
  });

  it('lets a publisher that is not subscribed publish, and relays to every subscriber', async () => {
    const { grant, client, alice1, alice2, bob } = await collaborators();
    await grant('carol', 'owner');
    const carol = await client('c-carol', CAROL);
    expect(await carol.send({ action: 'publish', channel: 'docs.D1', data: 1 })).toMatchObject([{ event: 'published', offset: 1 }]);
    for (const c of [alice1, alice2, bob]) expect(c.inbox()).toMatchObject([{ event: 'doc:event', userId: 'carol' }]);
  });

  it('takes the publisher from the connection, never from the message', async () => {
    const { alice1, bob } = await collaborators();
    await alice1.send({ action: 'publish', channel: 'docs.D1', userId: 'bob', data: 1 });
    expect(bob.inbox()).toMatchObject([{ event: 'doc:event', userId: 'alice' }]);
  });

  it('does not relay to a subscriber of another document', async () => {
    const { alice1, grant, client } = await collaborators();
    await grant('carol', 'viewer', 'D2');
    const carol = await client('c-carol', CAROL);
    await carol.send({ action: 'subscribe', channel: 'docs.D2' });
    await alice1.send({ action: 'publish', channel: 'docs.D1', data: 1 });
    expect(carol.inbox()).toStrictEqual([]);
  });

  it('prunes a subscriber found gone and still delivers to the rest', async () => {
    const { alice1, alice2, bob, gateway, subscriptions } = await collaborators();
    gateway.close('c-alice-2');
    expect(await alice1.send({ action: 'publish', channel: 'docs.D1', data: 1 })).toMatchObject([{ event: 'published' }]);
    expect(bob.inbox()).toMatchObject([{ event: 'doc:event' }]);
    expect(await subscriptions.listByConnection('c-alice-2')).toStrictEqual([]);
    void alice2;
  });

  it('sends only messages that match the server message schema', async () => {
    const { alice1, bob, gateway } = await collaborators();
    await alice1.send({ action: 'publish', channel: 'docs.D1', data: { a: [1] }, requestId: 'r1' });
    await bob.send({ action: 'publish', channel: 'docs.D1', data: 1, requestId: 'r2' });
    await alice1.send({ action: 'publish', channel: 'jobs.J1', data: 1 });
    const received = [...gateway.received('c-alice-1'), ...gateway.received('c-alice-2'), ...gateway.received('c-bob')];
    expect(received.length).toBeGreaterThanOrEqual(6);
    for (const message of received) expect(ServerMessageSchema.safeParse(message).success).toBe(true);
  });
});
