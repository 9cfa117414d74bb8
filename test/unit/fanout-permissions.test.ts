/**
 * `document.permission` events in the fan-out, as docs/protocol.md (section Document roles)
 * specifies them: grants and changes are stored in timestamp order; a revocation ends the
 * user's live subscriptions to docs.{id} and presence.{id}, tells each affected connection
 * which channel it lost, and lets the others in the document see presence:user-left.
 */
import { MemorySlotLimiter } from '../../functions/adapters/memory/slot-limiter.ts';
import { AbuseLimits } from '../../functions/domain/limits.ts';
import { describe, expect, it, vi } from 'vitest';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemoryDocumentRoleStore } from '../../functions/adapters/memory/document-role-store.ts';
import { MemoryEventLedger } from '../../functions/adapters/memory/event-ledger.ts';
import { MemoryHistoryStore } from '../../functions/adapters/memory/history-store.ts';
import { MemoryPresenceStore } from '../../functions/adapters/memory/presence-store.ts';
import { MemoryDeadLetterSink, MemoryTaskQueue } from '../../functions/adapters/memory/queues.ts';
import { MemoryRateLimiter } from '../../functions/adapters/memory/rate-limiter.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import type { DocumentRole } from '../../functions/domain/authorization.ts';
import { Delivery } from '../../functions/domain/delivery.ts';
import { ErrorCode } from '../../functions/domain/errors.ts';
import { Fanout, RetryLaterError } from '../../functions/domain/fanout.ts';
import { ServerMessageSchema } from '../../functions/domain/messages.ts';
import { PresenceUnavailableError, nullMetrics, silentLog, type Identity } from '../../functions/domain/ports.ts';
import { PresenceService } from '../../functions/domain/presence.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics, recordingSleep } from './domain-fakes.ts';

const BASE = Date.UTC(2030, 0, 1, 10, 0, 0);
/** `n` seconds after BASE, ISO. */
const T = (n: number): string => new Date(BASE + n * 1000).toISOString();
const iso = (ms: number): string => new Date(ms).toISOString();

type Msg = Record<string, unknown>;

interface PermissionDetail {
  documentId?: unknown;
  userId?: unknown;
  role?: unknown;
  timestamp?: unknown;
}

/** An EventBridge `document.permission` event as a rule delivers it to SQS. */
function permissionEvent(id: string, detail: PermissionDetail, time: string | undefined = T(0)): string {
  return JSON.stringify({
    id,
    'detail-type': 'document.permission',
    source: 'realtime.workers',
    ...(time === undefined ? {} : { time }),
    detail,
  });
}

const grantEvent = (id: string, userId: string, role: DocumentRole | null, at: number, documentId = 'D1'): string =>
  permissionEvent(id, { documentId, userId, role, timestamp: T(at) });

function setup(options: { withRoles?: boolean; withPresence?: boolean; limits?: AbuseLimits } = {}) {
  const clock = new FakeClock(BASE + 60_000);
  const channels = new MemoryChannelStore({ clock });
  const history = new MemoryHistoryStore({ clock });
  const ledger = new MemoryEventLedger({ clock });
  const subscriptions = new MemorySubscriptionStore({ clock });
  const connections = new MemoryConnectionStore({ clock });
  const roles = new MemoryDocumentRoleStore({ clock });
  const presenceStore = new MemoryPresenceStore({ clock });
  const gateway = new MemoryConnectionGateway();
  const tasks = new MemoryTaskQueue();
  const deadLetters = new MemoryDeadLetterSink();
  const metrics = new RecordingMetrics();
  const { sleep } = recordingSleep();
  // As wired in functions/wiring/fanout.ts: pruned connections leave presence.
  const delivery = new Delivery({
    gateway,
    subscriptions,
    connections,
    clock,
    log: silentLog,
    metrics,
    sleep,
    random: () => 0.5,
    afterPrune: (connectionId: string): Promise<void> => presence.leaveAll(connectionId),
  });
  const presence: PresenceService = new PresenceService({
    store: presenceStore,
    limiter: new MemoryRateLimiter({ clock }),
    subscriptions,
    gateway,
    delivery,
    log: silentLog,
    metrics,
  });
  const fanout = new Fanout({
    channels,
    history,
    ledger,
    subscriptions,
    delivery,
    tasks,
    deadLetters,
    clock,
    log: silentLog,
    metrics,
    ...(options.withRoles === false ? {} : { documentRoles: roles }),
    ...(options.withPresence === false ? {} : { presence }),
    ...(options.limits ? { limits: options.limits } : {}),
  });

  /** An open connection of `userId` subscribed to `channel` (stored directly, as the router would). */
  const opened = new Set<string>();
  const subscribe = async (connectionId: string, channel: string, userId: string): Promise<void> => {
    if (!opened.has(connectionId)) gateway.open(connectionId);
    opened.add(connectionId);
    await subscriptions.add({ connectionId, channel, userId, subscribedAt: clock.now(), expiresAt: clock.inSeconds(3600) }, 100);
  };

  /** A connection that subscribed to presence.{documentId} and entered it, as the router does. */
  const enter = async (connectionId: string, identity: Identity, documentId = 'D1'): Promise<void> => {
    await subscribe(connectionId, `presence.${documentId}`, identity.userId);
    const joined = await presence.enter(connectionId, identity, documentId);
    await presence.announce(connectionId, documentId, joined);
  };

  const read = new Map<string, number>();
  /** Messages posted to the connection since the last call. */
  const inbox = (connectionId: string): Msg[] => {
    const all = gateway.received(connectionId) as Msg[];
    const from = read.get(connectionId) ?? 0;
    read.set(connectionId, all.length);
    return all.slice(from);
  };

  const channelsOf = async (connectionId: string): Promise<string[]> => (await subscriptions.listByConnection(connectionId)).map((s) => s.channel);

  return { clock, subscriptions, roles, presenceStore, gateway, deadLetters, metrics, ledger, presence, fanout, subscribe, enter, inbox, channelsOf };
}

const revokedNotice = (channel: string, now: number): Msg => ({
  event: 'error',
  code: ErrorCode.PERMISSION_DENIED,
  message: expect.any(String) as unknown as string,
  channel,
  timestamp: iso(now),
});

describe('Fanout: document.permission', () => {
  describe('grants and changes', () => {
    it('stores a granted role, and tells no client', async () => {
      // Prepare
      const { fanout, roles, subscribe, inbox, metrics, deadLetters } = setup();
      await subscribe('c-bob', 'docs.D1', 'bob');
      // Act
      await fanout.processRecord(grantEvent('perm-1', 'bob', 'editor', 1));
      // Assess
      expect(await roles.roleOf('D1', 'bob')).toBe('editor');
      expect(await roles.roleOf('D2', 'bob')).toBeUndefined();
      expect(await roles.roleOf('D1', 'alice')).toBeUndefined();
      expect(inbox('c-bob')).toStrictEqual([]);
      expect(deadLetters.messages).toStrictEqual([]);
      expect(metrics.total('PermissionChanges')).toBe(1);
      expect(metrics.total('EventsProcessed')).toBe(1);
    });

    it.each<DocumentRole>(['owner', 'editor', 'commenter', 'viewer'])('stores the role %s', async (role) => {
      const { fanout, roles } = setup();
      await fanout.processRecord(grantEvent('perm-1', 'bob', role, 1));
      expect(await roles.roleOf('D1', 'bob')).toBe(role);
    });

    it('changes a role and leaves the user\'s subscriptions alone', async () => {
      // Prepare
      const { fanout, roles, subscribe, enter, inbox, channelsOf } = setup();
      await fanout.processRecord(grantEvent('perm-1', 'bob', 'editor', 1));
      await subscribe('c-bob', 'docs.D1', 'bob');
      await enter('c-bob', { userId: 'bob' });
      inbox('c-bob');
      // Act
      await fanout.processRecord(grantEvent('perm-2', 'bob', 'viewer', 2));
      // Assess
      expect(await roles.roleOf('D1', 'bob')).toBe('viewer');
      expect(await channelsOf('c-bob')).toStrictEqual(['docs.D1', 'presence.D1']);
      expect(inbox('c-bob')).toStrictEqual([]);
    });

    it('orders changes by the envelope time when the detail has no timestamp', async () => {
      const { fanout, roles } = setup();
      await fanout.processRecord(permissionEvent('perm-2', { documentId: 'D1', userId: 'bob', role: 'viewer' }, T(5)));
      await fanout.processRecord(permissionEvent('perm-1', { documentId: 'D1', userId: 'bob', role: 'owner' }, T(3)));
      expect(await roles.roleOf('D1', 'bob')).toBe('viewer');
    });

    it('applies changes with equal timestamps in arrival order', async () => {
      const { fanout, roles } = setup();
      await fanout.processRecord(grantEvent('perm-1', 'bob', 'viewer', 5));
      await fanout.processRecord(grantEvent('perm-2', 'bob', 'editor', 5));
      expect(await roles.roleOf('D1', 'bob')).toBe('editor');
    });
  });

  describe('revocation', () => {
    /**
     * D1: alice (one tab, docs + presence), bob (tab b1: docs + presence, tab b2: docs only,
     * tab b3: docs.D2 only), carol (docs + presence). Everyone has a role on D1.
     */
    async function document() {
      const s = setup();
      for (const [userId, role] of [['alice', 'owner'], ['bob', 'editor'], ['carol', 'viewer']] as const) {
        await s.fanout.processRecord(grantEvent(`grant-${userId}`, userId, role, 1));
      }
      await s.fanout.processRecord(grantEvent('grant-bob-D2', 'bob', 'editor', 1, 'D2'));
      await s.subscribe('c-alice', 'docs.D1', 'alice');
      await s.enter('c-alice', { userId: 'alice', name: 'Alice' });
      await s.subscribe('c-b1', 'docs.D1', 'bob');
      await s.enter('c-b1', { userId: 'bob', name: 'Bob' });
      await s.subscribe('c-b2', 'docs.D1', 'bob');
      await s.subscribe('c-b3', 'docs.D2', 'bob');
      await s.subscribe('c-carol', 'docs.D1', 'carol');
      await s.enter('c-carol', { userId: 'carol' });
      for (const c of ['c-alice', 'c-b1', 'c-b2', 'c-b3', 'c-carol']) s.inbox(c);
      return s;
    }

    it('removes the user\'s subscriptions to docs.D1 and presence.D1, and only theirs', async () => {
      // Prepare
      const { fanout, roles, channelsOf, subscriptions, metrics } = await document();
      // Act
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      // Assess
      expect(await roles.roleOf('D1', 'bob')).toBeUndefined();
      expect(await roles.roleOf('D2', 'bob')).toBe('editor');
      expect(await channelsOf('c-b1')).toStrictEqual([]);
      expect(await channelsOf('c-b2')).toStrictEqual([]);
      expect(await channelsOf('c-b3')).toStrictEqual(['docs.D2']);
      expect(await channelsOf('c-alice')).toStrictEqual(['docs.D1', 'presence.D1']);
      expect(await channelsOf('c-carol')).toStrictEqual(['docs.D1', 'presence.D1']);
      expect((await subscriptions.listByChannel('docs.D1', { limit: 10 })).items.map((s) => s.userId)).toStrictEqual(['alice', 'carol']);
      expect(metrics.total('SubscriptionsRevoked')).toBe(3);
      expect(metrics.total('EventsProcessed')).toBe(5);
    });

    it('tells each affected connection, with PERMISSION_DENIED naming each channel it lost', async () => {
      // Prepare
      const { fanout, inbox, clock } = await document();
      // Act
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      // Assess
      // presence first: leaving it must succeed before anything else is taken away
      expect(inbox('c-b1')).toStrictEqual([revokedNotice('presence.D1', clock.now()), revokedNotice('docs.D1', clock.now())]);
      expect(inbox('c-b2')).toStrictEqual([revokedNotice('docs.D1', clock.now())]);
      expect(inbox('c-b3')).toStrictEqual([]);
    });

    it('lets the others in the document see presence:user-left, and the user leave the presence', async () => {
      // Prepare
      const { fanout, inbox, presenceStore } = await document();
      // Act
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      // Assess
      const left = { event: 'presence:user-left', channel: 'presence.D1', userId: 'bob' };
      expect(inbox('c-alice')).toStrictEqual([left]);
      expect(inbox('c-carol')).toStrictEqual([left]);
      expect((await presenceStore.members('D1')).map((m) => m.userId)).toStrictEqual(['alice', 'carol']);
    });

    it('refuses the revoked connection\'s later presence updates', async () => {
      const { fanout, presence, inbox } = await document();
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      inbox('c-alice');
      await expect(presence.update('c-b1', { userId: 'bob' }, { action: 'presence', documentId: 'D1', cursor: { x: 1, y: 1 } })).rejects.toMatchObject({
        code: ErrorCode.PERMISSION_DENIED,
      });
      expect(inbox('c-alice')).toStrictEqual([]);
    });

    it('announces user-left once for a user present in two tabs', async () => {
      // Prepare
      const { fanout, enter, inbox } = await document();
      await enter('c-b2', { userId: 'bob', name: 'Bob' });
      inbox('c-alice');
      inbox('c-b2');
      // Act
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      // Assess
      expect(inbox('c-alice')).toStrictEqual([{ event: 'presence:user-left', channel: 'presence.D1', userId: 'bob' }]);
      expect(inbox('c-b2')).toStrictEqual([revokedNotice('presence.D1', BASE + 60_000), revokedNotice('docs.D1', BASE + 60_000)]);
    });

    it('leaves other documents\' presence alone', async () => {
      const { fanout, enter, inbox, presenceStore } = await document();
      await enter('c-b3', { userId: 'bob' }, 'D2');
      await enter('c-d2-dave', { userId: 'dave' }, 'D2');
      inbox('c-b3');
      inbox('c-d2-dave');
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      expect(inbox('c-d2-dave')).toStrictEqual([]);
      expect(inbox('c-b3')).toStrictEqual([]);
      expect((await presenceStore.members('D2')).map((m) => m.userId)).toStrictEqual(['bob', 'dave']);
    });

    it('revokes the user\'s subscriptions on every page of a big document', async () => {
      // Prepare: 12 subscribers, pages of 5, bob's connections scattered among them.
      const s = setup();
      const big = new Fanout(
        {
          channels: new MemoryChannelStore({ clock: s.clock }),
          history: new MemoryHistoryStore({ clock: s.clock }),
          ledger: s.ledger,
          subscriptions: s.subscriptions,
          delivery: new Delivery({ gateway: s.gateway, subscriptions: s.subscriptions, connections: new MemoryConnectionStore({ clock: s.clock }), clock: s.clock, log: silentLog, metrics: s.metrics }),
          tasks: new MemoryTaskQueue(),
          deadLetters: s.deadLetters,
          clock: s.clock,
          log: silentLog,
          metrics: s.metrics,
          documentRoles: s.roles,
          presence: s.presence,
        },
        { pageSize: 5 },
      );
      for (let i = 0; i < 12; i++) await s.subscribe(`c-${String(i).padStart(2, '0')}`, 'docs.D1', i % 4 === 0 ? 'bob' : `user-${i}`);
      // Act
      await big.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      // Assess
      const left = (await s.subscriptions.listByChannel('docs.D1', { limit: 100 })).items;
      expect(left).toHaveLength(9);
      expect(left.some((sub) => sub.userId === 'bob')).toBe(false);
      for (const c of ['c-00', 'c-04', 'c-08']) expect(s.inbox(c)).toMatchObject([{ event: 'error', code: 'PERMISSION_DENIED', channel: 'docs.D1' }]);
    });

    it('frees the revoked subscriptions\' per-user slots', async () => {
      const clock = new FakeClock(BASE + 60_000);
      const limits = new AbuseLimits({ rateLimiter: new MemoryRateLimiter({ clock }), slots: new MemorySlotLimiter({ clock }), clock, log: silentLog, metrics: nullMetrics }, { maxSubscriptionsPerUser: 2 });
      const s = setup({ withPresence: false, limits });
      await s.fanout.processRecord(grantEvent('grant-bob', 'bob', 'editor', 1));
      for (const channel of ['docs.D1', 'presence.D1']) {
        expect(await limits.acquireSubscription('bob', 'c-b1', channel, clock.now())).toBe(true);
        await s.subscribe('c-b1', channel, 'bob');
      }
      expect(await limits.acquireSubscription('bob', 'c-b1', 'docs.D2', clock.now())).toBe(false);
      await s.fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      expect(await limits.acquireSubscription('bob', 'c-b1', 'docs.D2', clock.now())).toBe(true);
      expect(await limits.acquireSubscription('bob', 'c-b1', 'docs.D3', clock.now())).toBe(true);
    });

    it('revokes without presence configured: subscriptions end and connections are told', async () => {
      const s = setup({ withPresence: false });
      await s.fanout.processRecord(grantEvent('grant-bob', 'bob', 'editor', 1));
      await s.subscribe('c-b1', 'docs.D1', 'bob');
      await s.subscribe('c-b1', 'presence.D1', 'bob');
      await s.fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      expect(await s.channelsOf('c-b1')).toStrictEqual([]);
      expect(s.inbox('c-b1')).toHaveLength(2);
    });

    it('fails the event when presence is unavailable, keeping the subscriptions, and the retry completes the revocation', async () => {
      // Prepare
      const { fanout, presenceStore, inbox, channelsOf, metrics } = await document();
      vi.spyOn(presenceStore, 'leave').mockRejectedValueOnce(new PresenceUnavailableError());
      // Act: the first attempt fails (SQS redelivers it), the retry succeeds
      await expect(fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2))).rejects.toMatchObject({ code: ErrorCode.PRESENCE_UNAVAILABLE });
      expect(await channelsOf('c-b1')).toContain('presence.D1');
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      // Assess
      expect(await channelsOf('c-b1')).toStrictEqual([]);
      expect(inbox('c-b1')).toMatchObject([{ channel: 'presence.D1' }, { channel: 'docs.D1' }]);
      expect(metrics.total('EventsProcessed')).toBe(5);
    });

    it('does not let a revoked connection keep relaying presence updates when presence failed during the revocation', async () => {
      // The revocation is retried until presence is left, so the revoked connection never stays
      // present (its own updates or pings would keep it alive) after its subscription is gone.
      const { fanout, presence, presenceStore, inbox } = await document();
      vi.spyOn(presenceStore, 'leave').mockRejectedValueOnce(new PresenceUnavailableError());
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2)).catch(() => undefined);
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      inbox('c-alice');
      // Act: the revoked tab sends a cursor.
      const outcome = await presence
        .update('c-b1', { userId: 'bob' }, { action: 'presence', documentId: 'D1', cursor: { x: 1, y: 1 } })
        .then(() => 'relayed', (error: unknown) => error);
      // Assess
      expect(inbox('c-alice')).toStrictEqual([]);
      expect(outcome).toMatchObject({ code: ErrorCode.PERMISSION_DENIED });
    });

    it('prunes a revoked connection found gone, and the others still see user-left', async () => {
      const { fanout, gateway, inbox, presenceStore } = await document();
      gateway.close('c-b1');
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      expect(inbox('c-alice')).toStrictEqual([{ event: 'presence:user-left', channel: 'presence.D1', userId: 'bob' }]);
      expect((await presenceStore.members('D1')).map((m) => m.userId)).toStrictEqual(['alice', 'carol']);
    });

    it('posts only messages that match the server message schema', async () => {
      const { fanout, gateway } = await document();
      await fanout.processRecord(grantEvent('revoke-bob', 'bob', null, 2));
      for (const c of ['c-alice', 'c-b1', 'c-b2', 'c-carol']) {
        for (const message of gateway.received(c)) expect(ServerMessageSchema.safeParse(message).success).toBe(true);
      }
    });
  });

  describe('order and duplicates', () => {
    it('drops a revocation older than the current grant (EventsStale) and revokes nothing', async () => {
      // Prepare
      const { fanout, roles, subscribe, enter, inbox, channelsOf, metrics } = setup();
      await fanout.processRecord(grantEvent('grant-new', 'bob', 'viewer', 5));
      await subscribe('c-b1', 'docs.D1', 'bob');
      await enter('c-b1', { userId: 'bob' });
      await enter('c-alice', { userId: 'alice' });
      inbox('c-b1');
      inbox('c-alice');
      // Act: a revocation made before the grant arrives late.
      await fanout.processRecord(grantEvent('revoke-old', 'bob', null, 3));
      // Assess
      expect(await roles.roleOf('D1', 'bob')).toBe('viewer');
      expect(await channelsOf('c-b1')).toStrictEqual(['docs.D1', 'presence.D1']);
      expect(inbox('c-b1')).toStrictEqual([]);
      expect(inbox('c-alice')).toStrictEqual([]);
      expect(metrics.total('EventsStale')).toBe(1);
      expect(metrics.total('PermissionChanges')).toBe(1);
    });

    it('drops a grant older than the current revocation: access does not come back', async () => {
      const { fanout, roles, metrics } = setup();
      await fanout.processRecord(grantEvent('grant-1', 'bob', 'editor', 1));
      await fanout.processRecord(grantEvent('revoke', 'bob', null, 5));
      await fanout.processRecord(grantEvent('grant-late', 'bob', 'owner', 3));
      expect(await roles.roleOf('D1', 'bob')).toBeUndefined();
      expect(metrics.total('EventsStale')).toBe(1);
    });

    it('drops an older role change after a newer one', async () => {
      const { fanout, roles } = setup();
      await fanout.processRecord(grantEvent('new', 'bob', 'viewer', 5));
      await fanout.processRecord(grantEvent('old', 'bob', 'owner', 4));
      expect(await roles.roleOf('D1', 'bob')).toBe('viewer');
    });

    it('processes an event id once: a redelivered revocation does not revoke a later grant of the same instant', async () => {
      // Prepare: revoke at T(5), then re-grant at the same T(5) (applies: equal timestamps go
      // in arrival order) and bob subscribes again.
      const { fanout, roles, subscribe, channelsOf, inbox, metrics } = setup();
      await fanout.processRecord(grantEvent('grant', 'bob', 'editor', 1));
      await fanout.processRecord(grantEvent('revoke', 'bob', null, 5));
      await fanout.processRecord(grantEvent('regrant', 'bob', 'editor', 5));
      await subscribe('c-b1', 'docs.D1', 'bob');
      // Act: SQS redelivers the revocation.
      await fanout.processRecord(grantEvent('revoke', 'bob', null, 5));
      // Assess
      expect(await roles.roleOf('D1', 'bob')).toBe('editor');
      expect(await channelsOf('c-b1')).toStrictEqual(['docs.D1']);
      expect(inbox('c-b1')).toStrictEqual([]);
      expect(metrics.total('EventsDuplicate')).toBe(1);
      expect(metrics.total('PermissionChanges')).toBe(3);
    });

    it('retries later when another invocation holds the event', async () => {
      const { fanout, ledger, clock, roles } = setup();
      await ledger.claim('perm-1', 60_000, clock.inSeconds(3600));
      await expect(fanout.processRecord(grantEvent('perm-1', 'bob', 'editor', 1))).rejects.toBeInstanceOf(RetryLaterError);
      expect(await roles.roleOf('D1', 'bob')).toBeUndefined();
    });

    it('releases the claim when the role store fails, so a redelivery applies the event', async () => {
      const { fanout, roles } = setup();
      vi.spyOn(roles, 'setRole').mockRejectedValueOnce(new Error('throttled'));
      await expect(fanout.processRecord(grantEvent('perm-1', 'bob', 'editor', 1))).rejects.toThrow('throttled');
      await fanout.processRecord(grantEvent('perm-1', 'bob', 'editor', 1));
      expect(await roles.roleOf('D1', 'bob')).toBe('editor');
    });
  });

  describe('dead letters', () => {
    it.each<[string, unknown]>([
      ['a missing userId', { documentId: 'D1', role: 'editor', timestamp: T(1) }],
      ['a missing documentId', { userId: 'bob', role: 'editor', timestamp: T(1) }],
      ['a missing role', { documentId: 'D1', userId: 'bob', timestamp: T(1) }],
      ['an unknown role', { documentId: 'D1', userId: 'bob', role: 'admin', timestamp: T(1) }],
      ['a document id that is not an id', { documentId: 'D1.x', userId: 'bob', role: 'editor', timestamp: T(1) }],
      ['a user id that is not an id', { documentId: 'D1', userId: 'bob smith', role: 'editor', timestamp: T(1) }],
      ['a timestamp that is not ISO 8601', { documentId: 'D1', userId: 'bob', role: 'editor', timestamp: 'yesterday' }],
      ['a detail that is not an object', 'bob is an editor'],
      ['no detail', undefined],
    ])('sends a permission event with %s to the dead-letter sink without applying it', async (_label, detail) => {
      // Prepare
      const { fanout, deadLetters, roles, metrics } = setup();
      const body = JSON.stringify({ id: 'perm-bad', 'detail-type': 'document.permission', source: 'realtime.workers', time: T(0), detail });
      // Act
      await fanout.processRecord(body);
      // Assess
      expect(deadLetters.messages).toStrictEqual([{ body, reason: expect.any(String) }]);
      expect(await roles.roleOf('D1', 'bob')).toBeUndefined();
      expect(metrics.total('EventsMalformed')).toBe(1);
      expect(metrics.total('PermissionChanges')).toBe(0);
    });

    it('sends a permission event to the dead-letter sink when no document role store is configured', async () => {
      // Prepare
      const { fanout, deadLetters, subscribe, channelsOf, inbox, metrics } = setup({ withRoles: false });
      await subscribe('c-b1', 'docs.D1', 'bob');
      const body = grantEvent('revoke-bob', 'bob', null, 2);
      // Act
      await fanout.processRecord(body);
      // Assess
      expect(deadLetters.messages).toStrictEqual([{ body, reason: expect.any(String) }]);
      expect(await channelsOf('c-b1')).toStrictEqual(['docs.D1']);
      expect(inbox('c-b1')).toStrictEqual([]);
      expect(metrics.total('EventsMalformed')).toBe(1);
    });
  });
});
