/**
 * PresenceService as specified in docs/protocol.md (section Presence), driven directly with
 * the memory adapters: who is told what when a connection enters, updates, heartbeats, leaves,
 * disconnects, goes silent or is found gone.
 */
import { describe, expect, it, vi } from 'vitest';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemoryPresenceStore } from '../../functions/adapters/memory/presence-store.ts';
import { MemoryRateLimiter } from '../../functions/adapters/memory/rate-limiter.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { ConnectionService } from '../../functions/domain/connections.ts';
import { Delivery } from '../../functions/domain/delivery.ts';
import { ErrorCode, RealtimeError } from '../../functions/domain/errors.ts';
import { ServerMessageSchema, type PresenceMessage } from '../../functions/domain/messages.ts';
import { PresenceUnavailableError, silentLog, type Identity } from '../../functions/domain/ports.ts';
import { PRESENCE_PALETTE, preferredColorIndex } from '../../functions/domain/presence-types.ts';
import { PresenceService, presenceChannel } from '../../functions/domain/presence.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics } from './domain-fakes.ts';

const BASE = Date.UTC(2030, 0, 1, 9, 0, 0);
const TIMEOUT_MS = 30_000;
const iso = (ms: number): string => new Date(ms).toISOString();

type Msg = Record<string, unknown>;

const ALICE: Identity = { userId: 'alice', name: 'Alice', picture: 'https://example.test/alice.png' };
const BOB: Identity = { userId: 'bob' };
const CAROL: Identity = { userId: 'carol', name: 'Carol' };

function setup(options: { updatesPerSecond?: number } = {}) {
  const clock = new FakeClock(BASE);
  const subscriptions = new MemorySubscriptionStore({ clock });
  const connections = new MemoryConnectionStore({ clock });
  const gateway = new MemoryConnectionGateway();
  const metrics = new RecordingMetrics();
  const store = new MemoryPresenceStore({ clock, timeoutMs: TIMEOUT_MS });
  const limiter = new MemoryRateLimiter({ clock });
  // As wired in functions/wiring/presence.ts: a pruned connection leaves every document.
  const delivery = new Delivery({
    gateway,
    subscriptions,
    connections,
    clock,
    log: silentLog,
    metrics,
    afterPrune: (connectionId: string): Promise<void> => presence.leaveAll(connectionId),
  });
  const presence: PresenceService = new PresenceService(
    { store, limiter, subscriptions, gateway, delivery, log: silentLog, metrics },
    options.updatesPerSecond === undefined ? {} : { updatesPerSecond: options.updatesPerSecond },
  );

  const connected = new Set<string>();
  /** An open connection with its record stored. */
  const connect = async (connectionId: string, identity: Identity): Promise<void> => {
    connected.add(connectionId);
    gateway.open(connectionId);
    await connections.put({ connectionId, userId: identity.userId, connectedAt: clock.now(), expiresAt: clock.inSeconds(3 * 3600) });
  };

  /** What the router does on subscribe to presence.{documentId}: store the subscription, enter, then announce. */
  const join = async (connectionId: string, identity: Identity, documentId = 'D1') => {
    if (!connected.has(connectionId)) await connect(connectionId, identity);
    await subscriptions.add(
      { connectionId, channel: presenceChannel(documentId), userId: identity.userId, subscribedAt: clock.now(), expiresAt: clock.inSeconds(3 * 3600) },
      100,
    );
    const joined = await presence.enter(connectionId, identity, documentId);
    await presence.announce(connectionId, documentId, joined);
    return joined;
  };

  /** The router's unsubscribe: remove the subscription, then leave. */
  const unsubscribe = async (connectionId: string, documentId = 'D1'): Promise<void> => {
    await subscriptions.remove(connectionId, presenceChannel(documentId));
    await presence.leave(connectionId, documentId);
  };

  const read = new Map<string, number>();
  /** Messages posted to the connection since the last call. */
  const inbox = (connectionId: string): Msg[] => {
    const all = gateway.received(connectionId) as Msg[];
    const from = read.get(connectionId) ?? 0;
    read.set(connectionId, all.length);
    return all.slice(from);
  };

  const update = (connectionId: string, patch: Partial<PresenceMessage> = {}): Promise<void> =>
    presence.update(connectionId, { userId: connectionId.replace(/^c-/, '').replace(/\d+$/, '') }, { action: 'presence', documentId: 'D1', ...patch });

  const advance = (ms: number): void => {
    clock.nowMs += ms;
  };

  return { clock, subscriptions, connections, gateway, metrics, store, limiter, delivery, presence, connect, join, unsubscribe, inbox, update, advance };
}

/** The rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const userLeft = (userId: string, documentId = 'D1'): Msg => ({ event: 'presence:user-left', channel: presenceChannel(documentId), userId });
const preferred = (userId: string): string => PRESENCE_PALETTE[preferredColorIndex(userId)] as string;

describe('PresenceService', () => {
  describe('enter and announce', () => {
    it('sends the joiner a snapshot with itself: token name, avatar from the picture, its palette color and lastSeen', async () => {
      // Prepare
      const { join, inbox } = setup();
      // Act
      const joined = await join('c-alice', ALICE);
      // Assess
      const member = { userId: 'alice', name: 'Alice', avatar: 'https://example.test/alice.png', color: preferred('alice'), lastSeen: iso(BASE) };
      expect(joined).toMatchObject({ joined: true, member, expired: [] });
      expect(inbox('c-alice')).toStrictEqual([{ event: 'presence:snapshot', channel: 'presence.D1', members: [member] }]);
    });

    it('names a member by the user id and leaves the avatar out when the token has neither name nor picture', async () => {
      const { join, inbox } = setup();
      await join('c-bob', BOB);
      expect(inbox('c-bob')).toStrictEqual([
        { event: 'presence:snapshot', channel: 'presence.D1', members: [{ userId: 'bob', name: 'bob', color: preferred('bob'), lastSeen: iso(BASE) }] },
      ]);
    });

    it('tells the members already there with presence:user-joined, and sends the joiner everyone', async () => {
      // Prepare
      const { join, inbox, advance } = setup();
      await join('c-alice', ALICE);
      inbox('c-alice');
      advance(1000);
      // Act
      await join('c-bob', BOB);
      // Assess
      const alice = { userId: 'alice', name: 'Alice', avatar: 'https://example.test/alice.png', color: preferred('alice'), lastSeen: iso(BASE) };
      const bobMember = inbox('c-bob')[0] as { members: { userId: string; color: string }[] };
      expect(inbox('c-alice')).toStrictEqual([
        { event: 'presence:user-joined', channel: 'presence.D1', member: { userId: 'bob', name: 'bob', color: expect.any(String), lastSeen: iso(BASE + 1000) } },
      ]);
      expect(bobMember).toStrictEqual({
        event: 'presence:snapshot',
        channel: 'presence.D1',
        members: [alice, { userId: 'bob', name: 'bob', color: expect.any(String), lastSeen: iso(BASE + 1000) }],
      });
      const [aliceColor, bobColor] = bobMember.members.map((m) => m.color);
      expect(PRESENCE_PALETTE).toContain(bobColor);
      expect(bobColor).not.toBe(aliceColor);
    });

    it('treats a second tab of the same user as the same member: no second join, same color', async () => {
      // Prepare
      const { join, inbox } = setup();
      const first = await join('c-alice-1', ALICE);
      await join('c-bob', BOB);
      inbox('c-alice-1');
      inbox('c-bob');
      // Act
      const second = await join('c-alice-2', ALICE);
      // Assess
      expect(second.joined).toBe(false);
      expect(second.member.color).toBe(first.member.color);
      expect(inbox('c-bob')).toStrictEqual([]);
      expect(inbox('c-alice-1')).toStrictEqual([]);
      const snapshot = inbox('c-alice-2');
      expect(snapshot).toMatchObject([{ event: 'presence:snapshot', members: [{ userId: 'alice', color: first.member.color }, { userId: 'bob' }] }]);
      expect((snapshot[0] as { members: unknown[] }).members).toHaveLength(2);
    });

    it('gives 16 users of one document 16 distinct colors from the palette', async () => {
      // Prepare / Act
      const { join, inbox } = setup();
      const users = Array.from({ length: 16 }, (_, i) => `user-${i}`);
      for (const userId of users) await join(`c-${userId}`, { userId });
      // Assess
      const [snapshot] = inbox('c-user-15') as [{ members: { color: string }[] }];
      const colors = snapshot.members.map((m) => m.color);
      expect(colors).toHaveLength(16);
      expect(new Set(colors).size).toBe(16);
      for (const color of colors) expect(PRESENCE_PALETTE).toContain(color);
    });

    it('lets a member keep their color while others come and go', async () => {
      const { join, unsubscribe, inbox } = setup();
      const alice = await join('c-alice', ALICE);
      for (let i = 0; i < 5; i++) {
        await join(`c-${i}`, { userId: `user-${i}` });
        await unsubscribe(`c-${i}`);
      }
      await join('c-carol', CAROL);
      const [snapshot] = inbox('c-carol') as [{ members: { userId: string; color: string }[] }];
      expect(snapshot.members.find((m) => m.userId === 'alice')?.color).toBe(alice.member.color);
    });

    it('sends only messages that match the server message schema', async () => {
      const { join, update, unsubscribe, gateway } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      await update('c-alice', { cursor: { x: 1, y: 2 }, selection: { slideId: 's1', elementId: 'e1', range: { start: 0, end: 3 } } });
      await update('c-alice', { cursor: null, selection: null });
      await unsubscribe('c-alice');
      const received = [...gateway.received('c-alice'), ...gateway.received('c-bob')];
      expect(received.length).toBeGreaterThanOrEqual(6);
      for (const message of received) expect(ServerMessageSchema.safeParse(message).success).toBe(true);
    });
  });

  describe('update', () => {
    it('relays cursor and selection as presence:update to every other connection in the document, never to the sender', async () => {
      // Prepare: alice has two tabs; bob one.
      const { join, update, inbox, advance, metrics } = setup();
      await join('c-alice-1', ALICE);
      await join('c-alice-2', ALICE);
      await join('c-bob', BOB);
      for (const c of ['c-alice-1', 'c-alice-2', 'c-bob']) inbox(c);
      advance(500);
      // Act
      await update('c-alice-1', { cursor: { x: 10, y: 20 }, selection: { slideId: 's1', elementId: 'e3' } });
      // Assess
      const expected = {
        event: 'presence:update',
        channel: 'presence.D1',
        userId: 'alice',
        cursor: { x: 10, y: 20 },
        selection: { slideId: 's1', elementId: 'e3' },
        lastSeen: iso(BASE + 500),
      };
      expect(inbox('c-bob')).toStrictEqual([expected]);
      expect(inbox('c-alice-2')).toStrictEqual([expected]);
      expect(inbox('c-alice-1')).toStrictEqual([]);
      expect(metrics.total('PresenceUpdates')).toBe(1);
    });

    it('carries only what the update names', async () => {
      const { join, update, inbox } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      inbox('c-bob');
      await update('c-alice', { cursor: { x: 1, y: 1 } });
      expect(inbox('c-bob')).toStrictEqual([{ event: 'presence:update', channel: 'presence.D1', userId: 'alice', cursor: { x: 1, y: 1 }, lastSeen: iso(BASE) }]);
    });

    it('clears the cursor with null: the others get cursor null and later snapshots have no cursor', async () => {
      // Prepare
      const { join, update, inbox } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      await update('c-alice', { cursor: { x: 10, y: 20 }, selection: { slideId: 's1' } });
      inbox('c-bob');
      // Act
      await update('c-alice', { cursor: null });
      // Assess
      expect(inbox('c-bob')).toStrictEqual([{ event: 'presence:update', channel: 'presence.D1', userId: 'alice', cursor: null, lastSeen: iso(BASE) }]);
      await join('c-carol', CAROL);
      const [snapshot] = inbox('c-carol') as [{ members: Msg[] }];
      const alice = snapshot.members.find((m) => m.userId === 'alice');
      expect(alice).toMatchObject({ selection: { slideId: 's1' } });
      expect(alice).not.toHaveProperty('cursor');
    });

    it('refuses an update for a document the connection has not joined with PERMISSION_DENIED and relays nothing', async () => {
      // Prepare: alice is in D1 only.
      const { join, presence, inbox } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      inbox('c-bob');
      // Act
      const error = await rejection(presence.update('c-alice', ALICE, { action: 'presence', documentId: 'D2', cursor: { x: 1, y: 1 } }));
      // Assess
      expect(error).toBeInstanceOf(RealtimeError);
      expect(error).toMatchObject({ code: ErrorCode.PERMISSION_DENIED, channel: 'presence.D2' });
      expect(inbox('c-bob')).toStrictEqual([]);
    });

    it('refuses an update from a connection that left the document', async () => {
      const { join, unsubscribe, update, inbox } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      await unsubscribe('c-alice');
      inbox('c-bob');
      expect(await rejection(update('c-alice', { cursor: { x: 1, y: 1 } }))).toMatchObject({ code: 'PERMISSION_DENIED', channel: 'presence.D1' });
      expect(inbox('c-bob')).toStrictEqual([]);
    });

    it('drops updates over 20 a second and tells the sender once a second, with retryAfterMs', async () => {
      // Prepare
      const { join, update, inbox, advance, metrics } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      inbox('c-bob');
      const burst = async (n: number): Promise<unknown[]> => {
        const errors: unknown[] = [];
        for (let i = 0; i < n; i++) await update('c-alice', { cursor: { x: i, y: i } }).catch((error: unknown) => errors.push(error));
        return errors;
      };
      // Act: 25 at once, then 5 more within the same second.
      const first = await burst(25);
      const more = await burst(5);
      // Assess
      expect(first).toHaveLength(1);
      expect(first[0]).toBeInstanceOf(RealtimeError);
      expect(first[0]).toMatchObject({ code: ErrorCode.RATE_LIMIT_EXCEEDED, channel: 'presence.D1' });
      const retryAfterMs = (first[0] as RealtimeError).retryAfterMs;
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(1000);
      expect(more).toStrictEqual([]);
      expect(inbox('c-bob').map((m) => (m.cursor as { x: number }).x)).toStrictEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(metrics.total('PresenceRateLimited')).toBe(10);

      // Act: a second later, a new burst.
      advance(1000);
      const later = await burst(25);
      // Assess: 20 allowed again, and one more warning.
      expect(later).toHaveLength(1);
      expect(later[0]).toMatchObject({ code: ErrorCode.RATE_LIMIT_EXCEEDED });
      expect(inbox('c-bob')).toHaveLength(20);
    });

    it('limits each connection on its own, two tabs of one user included', async () => {
      const { join, update, inbox } = setup();
      await join('c-alice-1', ALICE);
      await join('c-alice-2', ALICE);
      await join('c-bob', BOB);
      inbox('c-bob');
      for (let i = 0; i < 20; i++) await update('c-alice-1', { cursor: { x: i, y: 0 } });
      for (let i = 0; i < 20; i++) await update('c-alice-2', { cursor: { x: i, y: 1 } });
      expect(inbox('c-bob')).toHaveLength(40);
    });

    it('takes the limit from updatesPerSecond', async () => {
      const { join, update, inbox } = setup({ updatesPerSecond: 5 });
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      inbox('c-bob');
      const errors: unknown[] = [];
      for (let i = 0; i < 8; i++) await update('c-alice', { cursor: { x: i, y: 0 } }).catch((error: unknown) => errors.push(error));
      expect(inbox('c-bob')).toHaveLength(5);
      expect(errors).toHaveLength(1);
    });
  });

  describe('leave', () => {
    it('announces nothing when one of two tabs leaves, and presence:user-left to the others when the last one does', async () => {
      // Prepare
      const { join, unsubscribe, inbox, store } = setup();
      await join('c-alice-1', ALICE);
      await join('c-alice-2', ALICE);
      await join('c-bob', BOB);
      for (const c of ['c-alice-1', 'c-alice-2', 'c-bob']) inbox(c);
      // Act / Assess: first tab
      await unsubscribe('c-alice-1');
      expect(inbox('c-bob')).toStrictEqual([]);
      expect(inbox('c-alice-2')).toStrictEqual([]);
      expect((await store.members('D1')).map((m) => m.userId)).toStrictEqual(['alice', 'bob']);
      // Act / Assess: last tab
      await unsubscribe('c-alice-2');
      expect(inbox('c-bob')).toStrictEqual([userLeft('alice')]);
      expect(inbox('c-alice-1')).toStrictEqual([]);
      expect(inbox('c-alice-2')).toStrictEqual([]);
      expect((await store.members('D1')).map((m) => m.userId)).toStrictEqual(['bob']);
    });

    it('leaveAll leaves every document of the connection and tells the others in each', async () => {
      // Prepare
      const { join, subscriptions, presence, inbox, metrics } = setup();
      await join('c-bob', BOB, 'D1');
      await join('c-bob', BOB, 'D2');
      await join('c-alice', ALICE, 'D1');
      await join('c-carol', CAROL, 'D2');
      inbox('c-alice');
      inbox('c-carol');
      await subscriptions.removeConnection('c-bob');
      // Act
      await presence.leaveAll('c-bob');
      // Assess
      expect(inbox('c-alice')).toStrictEqual([userLeft('bob', 'D1')]);
      expect(inbox('c-carol')).toStrictEqual([userLeft('bob', 'D2')]);
      expect(metrics.total('PresenceDepartures')).toBe(2);
    });
  });

  describe('silence', () => {
    it('announces a member silent for more than the timeout at the next heartbeat of someone else', async () => {
      // Prepare
      const { join, presence, inbox, advance, store } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      inbox('c-alice');
      advance(20_000);
      await presence.heartbeat('c-alice');
      // Act / Assess: at exactly the timeout bob is still there...
      advance(10_000);
      await presence.heartbeat('c-alice');
      expect(inbox('c-alice')).toStrictEqual([]);
      // ...and 1 ms later he is gone.
      advance(1);
      await presence.heartbeat('c-alice');
      expect(inbox('c-alice')).toStrictEqual([userLeft('bob')]);
      expect((await store.members('D1')).map((m) => m.userId)).toStrictEqual(['alice']);
      // Announced once.
      await presence.heartbeat('c-alice');
      expect(inbox('c-alice')).toStrictEqual([]);
    });

    it('announces a silent member at the next update of someone else, after relaying the update', async () => {
      const { join, update, inbox, advance } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      await join('c-carol', CAROL);
      advance(20_000);
      await update('c-alice', { cursor: { x: 1, y: 1 } });
      await update('c-carol', { cursor: { x: 2, y: 2 } });
      inbox('c-alice');
      inbox('c-carol');
      advance(15_000);
      await update('c-carol', { cursor: { x: 3, y: 3 } });
      expect(inbox('c-alice')).toStrictEqual([
        { event: 'presence:update', channel: 'presence.D1', userId: 'carol', cursor: { x: 3, y: 3 }, lastSeen: iso(BASE + 35_000) },
        userLeft('bob'),
      ]);
      expect(inbox('c-carol')).toStrictEqual([userLeft('bob')]);
    });

    it('announces a silent member to everyone, the newcomer included, when someone joins', async () => {
      const { join, inbox, advance } = setup();
      await join('c-bob', BOB);
      advance(TIMEOUT_MS + 1);
      await join('c-alice', ALICE);
      const messages = inbox('c-alice');
      expect(messages[0]).toMatchObject({ event: 'presence:snapshot', members: [{ userId: 'alice' }] });
      expect((messages[0] as { members: unknown[] }).members).toHaveLength(1);
      expect(messages.slice(1)).toStrictEqual([userLeft('bob')]);
    });

    it('announces a silent member when someone else leaves', async () => {
      const { join, unsubscribe, presence, inbox, advance } = setup();
      await join('c-alice-1', ALICE);
      await join('c-alice-2', ALICE);
      await join('c-bob', BOB);
      advance(20_000);
      await presence.heartbeat('c-alice-1');
      await presence.heartbeat('c-alice-2');
      inbox('c-alice-2');
      advance(10_001);
      await unsubscribe('c-alice-1');
      expect(inbox('c-alice-2')).toStrictEqual([userLeft('bob')]);
    });

    it('keeps a connection that heartbeats alive long past the timeout', async () => {
      // Prepare
      const { join, presence, inbox, advance, store } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      inbox('c-bob');
      // Act: alice pings every 15 s for two minutes; bob pings too.
      for (let t = 0; t < 8; t++) {
        advance(15_000);
        await presence.heartbeat('c-alice');
        await presence.heartbeat('c-bob');
      }
      // Assess
      expect(inbox('c-bob')).toStrictEqual([]);
      expect(await store.members('D1')).toMatchObject([
        { userId: 'alice', lastSeen: iso(BASE + 120_000) },
        { userId: 'bob', lastSeen: iso(BASE + 120_000) },
      ]);
    });
  });

  describe('when the presence engine is unavailable', () => {
    it.each<[string, (s: ReturnType<typeof setup>) => Promise<unknown>, 'join' | 'update' | 'touch' | 'leave' | 'leaveAll']>([
      ['enter', (s) => s.presence.enter('c-alice', ALICE, 'D1'), 'join'],
      ['update', (s) => s.update('c-alice', { cursor: { x: 1, y: 1 } }), 'update'],
      ['heartbeat', (s) => s.presence.heartbeat('c-alice'), 'touch'],
      ['leave', (s) => s.presence.leave('c-alice', 'D1'), 'leave'],
      ['leaveAll', (s) => s.presence.leaveAll('c-alice'), 'leaveAll'],
    ])('%s fails with PRESENCE_UNAVAILABLE and a retryAfterMs', async (_label, act, method) => {
      // Prepare
      const s = setup();
      await s.join('c-alice', ALICE);
      vi.spyOn(s.store, method).mockRejectedValue(new PresenceUnavailableError({ cause: new Error('ECONNREFUSED') }));
      // Act
      const error = await rejection(act(s));
      // Assess
      expect(error).toBeInstanceOf(RealtimeError);
      expect(error).toMatchObject({ code: ErrorCode.PRESENCE_UNAVAILABLE, retryAfterMs: expect.any(Number) });
      expect((error as RealtimeError).retryAfterMs).toBeGreaterThan(0);
      expect((error as RealtimeError).temporary).toBe(true);
    });

    it('fails an update with PRESENCE_UNAVAILABLE when the rate limiter cannot be reached', async () => {
      const s = setup();
      await s.join('c-alice', ALICE);
      vi.spyOn(s.limiter, 'take').mockRejectedValue(new PresenceUnavailableError());
      expect(await rejection(s.update('c-alice', { cursor: { x: 1, y: 1 } }))).toMatchObject({ code: ErrorCode.PRESENCE_UNAVAILABLE });
    });

    it('lets other failures through as they are', async () => {
      const s = setup();
      const boom = new Error('bug');
      vi.spyOn(s.store, 'join').mockRejectedValue(boom);
      expect(await rejection(s.presence.enter('c-alice', ALICE, 'D1'))).toBe(boom);
    });
  });

  describe('gone connections', () => {
    it('prunes a connection found gone while broadcasting and lets it leave: the others get presence:user-left', async () => {
      // Prepare
      const { join, update, gateway, inbox, subscriptions, connections, store, metrics } = setup();
      await join('c-alice', ALICE);
      await join('c-bob', BOB);
      await join('c-carol', CAROL);
      inbox('c-alice');
      inbox('c-carol');
      gateway.close('c-bob');
      // Act
      await update('c-alice', { cursor: { x: 5, y: 5 } });
      // Assess
      expect(inbox('c-carol')).toStrictEqual([
        { event: 'presence:update', channel: 'presence.D1', userId: 'alice', cursor: { x: 5, y: 5 }, lastSeen: iso(BASE) },
        userLeft('bob'),
      ]);
      expect(inbox('c-alice')).toStrictEqual([userLeft('bob')]);
      expect(await subscriptions.listByConnection('c-bob')).toStrictEqual([]);
      expect(await connections.get('c-bob')).toBeUndefined();
      expect((await store.members('D1')).map((m) => m.userId)).toStrictEqual(['alice', 'carol']);
      expect(metrics.total('StaleConnectionsPruned')).toBe(1);
    });

    it('announces nothing when the gone connection was one of two tabs of its user', async () => {
      const { join, update, gateway, inbox, store } = setup();
      await join('c-alice', ALICE);
      await join('c-bob-1', BOB);
      await join('c-bob-2', BOB);
      inbox('c-alice');
      inbox('c-bob-2');
      gateway.close('c-bob-1');
      await update('c-alice', { cursor: { x: 5, y: 5 } });
      expect(inbox('c-bob-2')).toStrictEqual([
        { event: 'presence:update', channel: 'presence.D1', userId: 'alice', cursor: { x: 5, y: 5 }, lastSeen: iso(BASE) },
      ]);
      expect(inbox('c-alice')).toStrictEqual([]);
      expect((await store.members('D1')).map((m) => m.userId)).toStrictEqual(['alice', 'bob']);
    });
  });

  describe('ConnectionService.disconnect', () => {
    it('leaves the presence of every document the connection was in: the others get presence:user-left', async () => {
      // Prepare
      const s = setup();
      const service = new ConnectionService({ connections: s.connections, subscriptions: s.subscriptions, log: silentLog, metrics: s.metrics, presence: s.presence });
      await s.join('c-bob', BOB, 'D1');
      await s.join('c-bob', BOB, 'D2');
      await s.join('c-alice', ALICE, 'D1');
      await s.join('c-carol', CAROL, 'D2');
      s.inbox('c-alice');
      s.inbox('c-carol');
      // Act
      await service.disconnect('c-bob');
      // Assess
      expect(s.inbox('c-alice')).toStrictEqual([userLeft('bob', 'D1')]);
      expect(s.inbox('c-carol')).toStrictEqual([userLeft('bob', 'D2')]);
      expect(await s.store.members('D2')).toMatchObject([{ userId: 'carol' }]);
    });

    it('still disconnects when presence is unavailable', async () => {
      const s = setup();
      const service = new ConnectionService({ connections: s.connections, subscriptions: s.subscriptions, log: silentLog, metrics: s.metrics, presence: s.presence });
      await s.join('c-bob', BOB);
      vi.spyOn(s.store, 'leaveAll').mockRejectedValue(new PresenceUnavailableError());
      await expect(service.disconnect('c-bob')).resolves.toBeUndefined();
      expect(await s.subscriptions.listByConnection('c-bob')).toStrictEqual([]);
      expect(await s.connections.get('c-bob')).toBeUndefined();
    });
  });
});
