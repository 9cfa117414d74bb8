import { describe, expect, it, vi } from 'vitest';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemoryHistoryStore } from '../../functions/adapters/memory/history-store.ts';
import { MemoryPresenceStore } from '../../functions/adapters/memory/presence-store.ts';
import { MemoryRateLimiter } from '../../functions/adapters/memory/rate-limiter.ts';
import { Delivery } from '../../functions/domain/delivery.ts';
import { PresenceService } from '../../functions/domain/presence.ts';
import { ChannelAuthorizer, type DocumentRoleLookup } from '../../functions/domain/authorization.ts';
import { LIMITS, ServerMessageSchema, type JobUpdateDetail } from '../../functions/domain/messages.ts';
import { silentLog } from '../../functions/domain/ports.ts';
import { MessageRouter, type ConnectionContext } from '../../functions/domain/router.ts';
import { TTL } from '../../functions/domain/time.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics } from './domain-fakes.ts';

function setup(options: { documentRoles?: DocumentRoleLookup; maxSubscriptionsPerConnection?: number } = {}) {
  const clock = new FakeClock(Date.UTC(2030, 0, 1, 12, 0, 0, 250));
  const subscriptions = new MemorySubscriptionStore({ clock });
  const channels = new MemoryChannelStore({ clock });
  const gateway = new MemoryConnectionGateway();
  const metrics = new RecordingMetrics();
  const authorizer = new ChannelAuthorizer(
    options.documentRoles ? { channels, documentRoles: options.documentRoles } : { channels },
  );
  const delivery = new Delivery({ gateway, subscriptions, connections: new MemoryConnectionStore({ clock }), clock, log: silentLog, metrics });
  const presence = new PresenceService({
    store: new MemoryPresenceStore({ clock }),
    limiter: new MemoryRateLimiter({ clock }),
    subscriptions,
    gateway,
    delivery,
    log: silentLog,
    metrics,
  });
  let ids = 0;
  const router = new MessageRouter({
    subscriptions,
    channels,
    gateway,
    authorizer,
    clock,
    log: silentLog,
    metrics,
    presence,
    documents: {
      roles: options.documentRoles ?? { roleOf: async () => undefined },
      history: new MemoryHistoryStore({ clock }),
      delivery,
      newId: () => `doc-event-${++ids}`,
    },
    ...(options.maxSubscriptionsPerConnection === undefined ? {} : { maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection }),
  });
  const ctx: ConnectionContext = { connectionId: 'conn-alice', connectedAt: clock.now() - 60_000, identity: { userId: 'alice' } };
  gateway.open(ctx.connectionId);

  /** Sends one frame (an object is JSON-encoded) and returns the replies it produced. */
  const send = async (frame: unknown): Promise<Record<string, unknown>[]> => {
    const before = gateway.received(ctx.connectionId).length;
    await router.handle(ctx, typeof frame === 'string' ? frame : JSON.stringify(frame));
    return gateway.received(ctx.connectionId).slice(before) as Record<string, unknown>[];
  };

  /** Gives job J a state owned by `userId`, `events` updates long. */
  const seedJob = async (jobId: string, userId: string, events = 1, overrides: Partial<JobUpdateDetail> = {}) => {
    for (let i = 1; i <= events; i++) {
      await channels.applyJobUpdate(
        { jobId, userId, status: 'running', progress: i * 10, message: `step ${i}`, timestamp: new Date(clock.now() + i).toISOString(), ...overrides },
        `evt-${jobId}-${i}`,
        clock.inSeconds(3600),
      );
    }
  };

  return { clock, subscriptions, channels, gateway, metrics, router, ctx, send, seedJob };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** `depth` levels of JSON nesting, the top-level object included, with a ping at the top. */
function nestedPing(depth: number, requestId?: string): string {
  let inner = '1';
  for (let i = 1; i < depth; i++) inner = `{"a":${inner}}`;
  return `{"action":"ping",${requestId === undefined ? '' : `"requestId":"${requestId}",`}"x":${inner}}`;
}

describe('MessageRouter', () => {
  describe('ping', () => {
    it('answers pong with the requestId echoed and the current time', async () => {
      // Prepare
      const { send, clock } = setup();
      // Act
      const replies = await send({ action: 'ping', requestId: 'r1' });
      // Assess
      expect(replies).toStrictEqual([{ event: 'pong', requestId: 'r1', timestamp: iso(clock.now()) }]);
    });

    it('answers pong without a requestId when none was given', async () => {
      const { send, clock } = setup();
      expect(await send({ action: 'ping' })).toStrictEqual([{ event: 'pong', timestamp: iso(clock.now()) }]);
    });

    it('counts every received message', async () => {
      const { send, metrics } = setup();
      await send({ action: 'ping' });
      await send('nope');
      expect(metrics.total('MessagesReceived')).toBe(2);
    });
  });

  describe('invalid messages', () => {
    const longRequestId = 'r'.repeat(LIMITS.maxRequestIdLength + 1);

    it.each<[string, string, string | undefined]>([
      ['a body that is not JSON', '{"action":"ping","requestId":"r1"', undefined],
      ['an empty body', '', undefined],
      ['a JSON array', JSON.stringify([{ action: 'ping', requestId: 'r1' }]), undefined],
      ['a JSON string', JSON.stringify('ping'), undefined],
      ['a JSON number', '42', undefined],
      ['JSON null', 'null', undefined],
      ['an unknown action', JSON.stringify({ action: 'teleport', channel: 'jobs.J1', requestId: 'r1' }), 'r1'],
      ['a missing action', JSON.stringify({ channel: 'jobs.J1', requestId: 'r1' }), 'r1'],
      ['a subscribe without a channel', JSON.stringify({ action: 'subscribe', requestId: 'r1' }), 'r1'],
      ['an unsubscribe without a channel', JSON.stringify({ action: 'unsubscribe', requestId: 'r1' }), 'r1'],
      ['a channel that is not a string', JSON.stringify({ action: 'subscribe', channel: ['jobs.J1'], requestId: 'r1' }), 'r1'],
      ['a channel of 257 characters', JSON.stringify({ action: 'subscribe', channel: `jobs.${'a'.repeat(252)}`, requestId: 'r1' }), 'r1'],
      ['a requestId of 129 characters', JSON.stringify({ action: 'ping', requestId: longRequestId }), undefined],
      ['an empty requestId', JSON.stringify({ action: 'ping', requestId: '' }), undefined],
      ['a requestId that is a number', JSON.stringify({ action: 'ping', requestId: 12 }), undefined],
      ['a requestId that is an object', JSON.stringify({ action: 'ping', requestId: { id: 'r1' } }), undefined],
      ['a body over 32 KB', JSON.stringify({ action: 'ping', pad: 'x'.repeat(LIMITS.maxClientMessageBytes) }), undefined],
      ['JSON nested 33 levels deep', nestedPing(LIMITS.maxJsonDepth + 1), undefined],
    ])('refuses %s with INVALID_MESSAGE and still answers ping afterwards', async (_label, body, echoed) => {
      // Prepare
      const { send, clock, metrics } = setup();
      // Act
      const replies = await send(body);
      // Assess
      expect(replies).toHaveLength(1);
      expect(replies[0]).toStrictEqual({
        event: 'error',
        code: 'INVALID_MESSAGE',
        message: expect.any(String),
        ...(echoed === undefined ? {} : { requestId: echoed }),
        timestamp: iso(clock.now()),
      });
      expect(metrics.total('InvalidMessages')).toBe(1);
      expect(await send({ action: 'ping', requestId: 'after' })).toStrictEqual([
        { event: 'pong', requestId: 'after', timestamp: iso(clock.now()) },
      ]);
    });

    it('echoes a well-formed requestId of a message nested too deeply', async () => {
      // The frame was parsed (only its depth is refused), so its well-formed requestId is known
      // and the protocol promises it back on the error.
      const { send } = setup();
      const replies = await send(nestedPing(LIMITS.maxJsonDepth + 1, 'r-deep'));
      expect(replies).toMatchObject([{ event: 'error', code: 'INVALID_MESSAGE', requestId: 'r-deep' }]);
    });

    it('accepts JSON nested exactly 32 levels deep', async () => {
      const { send } = setup();
      expect(await send(nestedPing(LIMITS.maxJsonDepth, 'r1'))).toMatchObject([{ event: 'pong', requestId: 'r1' }]);
    });

    it('accepts a body of exactly 32 KB', async () => {
      // Prepare: pad a ping up to 32768 bytes.
      const { send } = setup();
      const shell = JSON.stringify({ action: 'ping', requestId: 'r1', pad: '' });
      const body = JSON.stringify({ action: 'ping', requestId: 'r1', pad: 'x'.repeat(LIMITS.maxClientMessageBytes - shell.length) });
      expect(Buffer.byteLength(body)).toBe(LIMITS.maxClientMessageBytes);
      // Act / Assess
      expect(await send(body)).toMatchObject([{ event: 'pong', requestId: 'r1' }]);
    });

    it('measures the 40 KB limit in UTF-8 bytes, not characters', async () => {
      // 14,000 euro signs are 42,000 bytes but fewer than 40,960 characters.
      const { send } = setup();
      const body = JSON.stringify({ action: 'ping', pad: '\u20ac'.repeat(14_000) });
      expect(body.length).toBeLessThan(LIMITS.maxClientMessageBytes);
      expect(await send(body)).toMatchObject([{ event: 'error', code: 'INVALID_MESSAGE' }]);
    });

    it('does not echo input values in the error message', async () => {
      const { send } = setup();
      const replies = await send({ action: 'S3CRET-action', channel: 'S3CRET-channel', requestId: 'r1' });
      expect(replies).toMatchObject([{ event: 'error', code: 'INVALID_MESSAGE', requestId: 'r1' }]);
      expect(JSON.stringify(replies[0]?.message)).not.toContain('S3CRET');
    });
  });

  describe('subscribe', () => {
    it.each(['jobs.', 'jobs.a.b', 'foo.x', 'jobs.caf\u00e9', `jobs.${'a'.repeat(129)}`, 'user'])(
      'refuses the well-formed but unknown channel name %j with CHANNEL_NOT_FOUND',
      async (channel) => {
        // Prepare
        const { send, subscriptions, ctx } = setup();
        // Act
        const replies = await send({ action: 'subscribe', channel, requestId: 'r1' });
        // Assess
        expect(replies).toStrictEqual([
          { event: 'error', code: 'CHANNEL_NOT_FOUND', message: expect.any(String), channel, requestId: 'r1', timestamp: expect.any(String) },
        ]);
        expect(await subscriptions.listByConnection(ctx.connectionId)).toStrictEqual([]);
      },
    );

    it('subscribes a user to their own channel, stored with the connection\'s lifetime', async () => {
      // Prepare
      const { send, subscriptions, ctx, clock, metrics } = setup();
      // Act
      const replies = await send({ action: 'subscribe', channel: 'user.alice', requestId: 'r1' });
      // Assess
      expect(replies).toStrictEqual([{ event: 'subscribed', channel: 'user.alice', requestId: 'r1' }]);
      expect(await subscriptions.listByConnection(ctx.connectionId)).toStrictEqual([
        {
          connectionId: ctx.connectionId,
          channel: 'user.alice',
          userId: 'alice',
          subscribedAt: clock.now(),
          expiresAt: Math.floor(ctx.connectedAt / 1000) + TTL.connectionSec,
        },
      ]);
      expect(metrics.total('Subscriptions')).toBe(1);
    });

    it('refuses another user\'s channel with PERMISSION_DENIED', async () => {
      const { send, subscriptions, ctx, metrics } = setup();
      const replies = await send({ action: 'subscribe', channel: 'user.bob', requestId: 'r1' });
      expect(replies).toStrictEqual([
        { event: 'error', code: 'PERMISSION_DENIED', message: expect.any(String), channel: 'user.bob', requestId: 'r1', timestamp: expect.any(String) },
      ]);
      expect(await subscriptions.listByConnection(ctx.connectionId)).toStrictEqual([]);
      expect(metrics.total('SubscriptionsDenied')).toBe(1);
    });

    it('refuses a job owned by another user with PERMISSION_DENIED', async () => {
      // Prepare
      const { send, subscriptions, ctx, seedJob } = setup();
      await seedJob('J1', 'bob');
      // Act
      const replies = await send({ action: 'subscribe', channel: 'jobs.J1', requestId: 'r1' });
      // Assess
      expect(replies).toMatchObject([{ event: 'error', code: 'PERMISSION_DENIED', channel: 'jobs.J1', requestId: 'r1' }]);
      expect(replies).toHaveLength(1);
      expect(await subscriptions.listByConnection(ctx.connectionId)).toStrictEqual([]);
    });

    it('accepts a job that has no state yet and sends no state', async () => {
      const { send, subscriptions } = setup();
      const replies = await send({ action: 'subscribe', channel: 'jobs.J1', requestId: 'r1' });
      expect(replies).toStrictEqual([{ event: 'subscribed', channel: 'jobs.J1', requestId: 'r1' }]);
      expect((await subscriptions.listByChannel('jobs.J1', { limit: 10 })).items).toMatchObject([{ userId: 'alice' }]);
    });

    it('sends the job\'s current state right after the ack', async () => {
      // Prepare: two updates, so the state is at offset 2.
      const { send, seedJob, channels } = setup();
      await seedJob('J1', 'alice', 2);
      const state = await channels.getJob('J1');
      // Act
      const replies = await send({ action: 'subscribe', channel: 'jobs.J1', requestId: 'r1' });
      // Assess
      expect(replies).toStrictEqual([
        { event: 'subscribed', channel: 'jobs.J1', requestId: 'r1' },
        {
          event: 'job:update',
          channel: 'jobs.J1',
          offset: 2,
          data: { type: 'job.update', jobId: 'J1', status: 'running', progress: 20, message: 'step 2', timestamp: state?.timestamp },
        },
      ]);
    });

    it('acks a repeated subscription again without counting it twice', async () => {
      // Prepare
      const { send, subscriptions, ctx, metrics } = setup();
      await send({ action: 'subscribe', channel: 'user.alice', requestId: 'r1' });
      // Act
      const replies = await send({ action: 'subscribe', channel: 'user.alice', requestId: 'r2' });
      // Assess
      expect(replies).toStrictEqual([{ event: 'subscribed', channel: 'user.alice', requestId: 'r2' }]);
      expect(await subscriptions.listByConnection(ctx.connectionId)).toHaveLength(1);
      expect(metrics.total('Subscriptions')).toBe(1);
    });

    it('refuses the 101st subscription with RATE_LIMIT_EXCEEDED', async () => {
      // Prepare: 100 job subscriptions.
      const { send, subscriptions, ctx } = setup();
      for (let i = 0; i < LIMITS.maxSubscriptionsPerConnection; i++) {
        expect(await send({ action: 'subscribe', channel: `jobs.J${i}` })).toMatchObject([{ event: 'subscribed' }]);
      }
      // Act
      const replies = await send({ action: 'subscribe', channel: 'jobs.one-too-many', requestId: 'r101' });
      // Assess
      expect(replies).toStrictEqual([
        {
          event: 'error',
          code: 'RATE_LIMIT_EXCEEDED',
          message: expect.any(String),
          channel: 'jobs.one-too-many',
          requestId: 'r101',
          timestamp: expect.any(String),
        },
      ]);
      expect(await subscriptions.listByConnection(ctx.connectionId)).toHaveLength(LIMITS.maxSubscriptionsPerConnection);
    });

    it('still acks a repeated subscription when the connection is at the limit', async () => {
      const { send } = setup({ maxSubscriptionsPerConnection: 2 });
      await send({ action: 'subscribe', channel: 'jobs.J1' });
      await send({ action: 'subscribe', channel: 'jobs.J2' });
      expect(await send({ action: 'subscribe', channel: 'jobs.J2', requestId: 'again' })).toStrictEqual([
        { event: 'subscribed', channel: 'jobs.J2', requestId: 'again' },
      ]);
    });

    it.each(['docs.D1', 'presence.D1'])('refuses %s while nobody has a document role', async (channel) => {
      const { send } = setup();
      expect(await send({ action: 'subscribe', channel, requestId: 'r1' })).toMatchObject([
        { event: 'error', code: 'PERMISSION_DENIED', channel, requestId: 'r1' },
      ]);
    });

    it('accepts docs.D1 when the document role lookup grants a role', async () => {
      // Prepare
      const roleOf = vi.fn<DocumentRoleLookup['roleOf']>(async () => 'viewer');
      const { send } = setup({ documentRoles: { roleOf } });
      // Act
      const replies = await send({ action: 'subscribe', channel: 'docs.D1', requestId: 'r1' });
      // Assess
      expect(replies).toStrictEqual([{ event: 'subscribed', channel: 'docs.D1', requestId: 'r1' }]);
      expect(roleOf).toHaveBeenCalledWith('D1', 'alice');
    });

    it('accepts presence.D1 when the document role lookup grants a role, and sends the snapshot after the ack', async () => {
      const roleOf = vi.fn<DocumentRoleLookup['roleOf']>(async () => 'viewer');
      const { send } = setup({ documentRoles: { roleOf } });
      const replies = await send({ action: 'subscribe', channel: 'presence.D1', requestId: 'r1' });
      expect(replies).toMatchObject([
        { event: 'subscribed', channel: 'presence.D1', requestId: 'r1' },
        { event: 'presence:snapshot', channel: 'presence.D1', members: [{ userId: 'alice', name: 'alice' }] },
      ]);
      expect(roleOf).toHaveBeenCalledWith('D1', 'alice');
    });

    it('ignores unknown fields', async () => {
      const { send } = setup();
      expect(await send({ action: 'subscribe', channel: 'user.alice', requestId: 'r1', priority: 9, extra: { deep: [1, 2] } })).toStrictEqual([
        { event: 'subscribed', channel: 'user.alice', requestId: 'r1' },
      ]);
    });

    it('takes the user from the connection, never from a userId in the message', async () => {
      // Prepare
      const { send, subscriptions, ctx } = setup();
      // Act
      const impersonation = await send({ action: 'subscribe', channel: 'user.bob', userId: 'bob', requestId: 'r1' });
      const own = await send({ action: 'subscribe', channel: 'user.alice', userId: 'bob', requestId: 'r2' });
      // Assess
      expect(impersonation).toMatchObject([{ event: 'error', code: 'PERMISSION_DENIED', channel: 'user.bob' }]);
      expect(own).toMatchObject([{ event: 'subscribed', channel: 'user.alice' }]);
      expect(await subscriptions.listByConnection(ctx.connectionId)).toMatchObject([{ channel: 'user.alice', userId: 'alice' }]);
    });

    it('does not let a userId in the message claim another user\'s job', async () => {
      const { send, seedJob } = setup();
      await seedJob('J1', 'bob');
      expect(await send({ action: 'subscribe', channel: 'jobs.J1', userId: 'bob' })).toMatchObject([
        { event: 'error', code: 'PERMISSION_DENIED' },
      ]);
    });
  });

  describe('unsubscribe', () => {
    it('answers unsubscribed and removes the subscription from the store', async () => {
      // Prepare
      const { send, subscriptions, ctx } = setup();
      await send({ action: 'subscribe', channel: 'user.alice' });
      await send({ action: 'subscribe', channel: 'jobs.J1' });
      // Act
      const replies = await send({ action: 'unsubscribe', channel: 'user.alice', requestId: 'r2' });
      // Assess
      expect(replies).toStrictEqual([{ event: 'unsubscribed', channel: 'user.alice', requestId: 'r2' }]);
      expect(await subscriptions.listByConnection(ctx.connectionId)).toMatchObject([{ channel: 'jobs.J1' }]);
      expect((await subscriptions.listByChannel('user.alice', { limit: 10 })).items).toStrictEqual([]);
    });

    it('answers unsubscribed when there was no subscription', async () => {
      const { send } = setup();
      expect(await send({ action: 'unsubscribe', channel: 'jobs.J9' })).toStrictEqual([{ event: 'unsubscribed', channel: 'jobs.J9' }]);
    });

    it('refuses an unknown channel name with CHANNEL_NOT_FOUND', async () => {
      const { send } = setup();
      expect(await send({ action: 'unsubscribe', channel: 'foo.x', requestId: 'r1' })).toMatchObject([
        { event: 'error', code: 'CHANNEL_NOT_FOUND', channel: 'foo.x', requestId: 'r1' },
      ]);
    });
  });

  describe('failures', () => {
    it('answers INTERNAL with the requestId and no internal details when a store throws', async () => {
      // Prepare
      const { send, subscriptions, clock } = setup();
      vi.spyOn(subscriptions, 'add').mockRejectedValueOnce(new Error('ProvisionedThroughputExceededException arn:aws:dynamodb:table/realtime'));
      // Act
      const replies = await send({ action: 'subscribe', channel: 'user.alice', requestId: 'r1' });
      // Assess
      expect(replies).toStrictEqual([{ event: 'error', code: 'INTERNAL', message: expect.any(String), requestId: 'r1', timestamp: iso(clock.now()) }]);
      const message = String(replies[0]?.message);
      expect(message).not.toMatch(/Provisioned|arn:|dynamodb|realtime/i);
      expect(await send({ action: 'ping', requestId: 'p' })).toMatchObject([{ event: 'pong', requestId: 'p' }]);
    });

    it('answers INTERNAL when the job state cannot be read', async () => {
      const { send, channels } = setup();
      vi.spyOn(channels, 'getJob').mockRejectedValueOnce(new Error('socket hang up'));
      expect(await send({ action: 'subscribe', channel: 'jobs.J1', requestId: 'r1' })).toMatchObject([
        { event: 'error', code: 'INTERNAL', requestId: 'r1' },
      ]);
    });

    it('counts a store failure during authorization as a failure, not as a denied subscription', async () => {
      // Prepare
      const { send, channels, metrics } = setup();
      vi.spyOn(channels, 'getJob').mockRejectedValueOnce(new Error('socket hang up'));
      // Act
      await send({ action: 'subscribe', channel: 'jobs.J1', requestId: 'r1' });
      // Assess: SubscriptionsDenied is the count of refusals (PERMISSION_DENIED), which this is not.
      expect(metrics.total('SubscriptionsDenied')).toBe(0);
    });

    it('resolves even when the reply cannot be posted', async () => {
      // Prepare
      const { router, gateway, ctx } = setup();
      gateway.injectFaults(() => new Error('network down'));
      // Act / Assess
      await expect(router.handle(ctx, JSON.stringify({ action: 'ping' }))).resolves.toBeUndefined();
      await expect(router.handle(ctx, 'not json')).resolves.toBeUndefined();
    });
  });

  it('sends only messages that match the server message schema', async () => {
    // Prepare
    const { send, seedJob, gateway, ctx } = setup();
    await seedJob('J1', 'alice', 1, { error: { code: 'E', message: 'x' }, status: 'failed' });
    // Act
    await send({ action: 'ping', requestId: 'r1' });
    await send({ action: 'subscribe', channel: 'jobs.J1', requestId: 'r2' });
    await send({ action: 'subscribe', channel: 'user.bob', requestId: 'r3' });
    await send({ action: 'unsubscribe', channel: 'jobs.J1' });
    await send('garbage');
    // Assess
    const received = gateway.received(ctx.connectionId);
    expect(received).toHaveLength(6);
    for (const message of received) expect(ServerMessageSchema.safeParse(message).success).toBe(true);
  });
});
