/**
 * Presence and document collaboration end to end, with the local runtime on a real Redis
 * (REDIS_URL) started for this file: roles from `document.permission` events, join and
 * snapshot, updates, several tabs, silent members expiring, colors, publishing, revocation,
 * and Redis going away and coming back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRESENCE_PALETTE } from '../../functions/domain/presence-types.ts';
import { startRedis, type LocalRedis } from '../support/redis.ts';
import { startProduct, type Product, type TestClient } from './support.ts';

const TIMEOUT_MS = 1500;
let redis: LocalRedis;
let product: Product;
let seq = 0;

beforeAll(async () => {
  redis = await startRedis();
  product = await startProduct({ env: { REDIS_URL: redis.url, PRESENCE_TIMEOUT_MS: String(TIMEOUT_MS) } });
});
afterAll(async () => {
  await product?.close();
  await redis?.stop();
});

const newDoc = (): string => `deck-${++seq}-${Date.now().toString(36)}`;

async function grant(documentId: string, roles: Record<string, 'owner' | 'editor' | 'commenter' | 'viewer' | null>): Promise<void> {
  for (const [userId, role] of Object.entries(roles)) {
    await product.publisher.publishDocumentPermission({ documentId, userId, role });
  }
  await product.settled();
}

async function join(userId: string, documentId: string, name?: string): Promise<TestClient> {
  const client = name ? await product.connectWithToken(await product.token(userId, { name })) : await product.connect(userId);
  await client.subscribe(`presence.${documentId}`);
  await client.waitFor((m) => m.event === 'presence:snapshot');
  return client;
}

const events = (client: TestClient, event: string) => client.messages.filter((m) => m.event === event);

describe('presence', () => {
  it('sends the joiner a snapshot with everyone, itself included, and the others a join', async () => {
    // Prepare
    const doc = newDoc();
    await grant(doc, { alice: 'owner', bob: 'viewer' });
    const alice = await join('alice', doc, 'Alice');
    // Act
    const bob = await join('bob', doc, 'Bob');
    // Assess
    expect(events(alice, 'presence:snapshot')[0]).toMatchObject({ channel: `presence.${doc}`, members: [{ userId: 'alice', name: 'Alice' }] });
    const snapshot = events(bob, 'presence:snapshot')[0];
    expect(snapshot && 'members' in snapshot && snapshot.members.map((m) => m.userId).sort()).toEqual(['alice', 'bob']);
    expect(snapshot && 'members' in snapshot && snapshot.members.every((m) => PRESENCE_PALETTE.includes(m.color as never) && m.lastSeen)).toBe(true);
    const joined = await alice.waitFor((m) => m.event === 'presence:user-joined');
    expect(joined).toMatchObject({ channel: `presence.${doc}`, member: { userId: 'bob', name: 'Bob' } });
    // the ack comes before the snapshot
    expect(bob.messages.findIndex((m) => m.event === 'subscribed')).toBeLessThan(bob.messages.findIndex((m) => m.event === 'presence:snapshot'));
  });

  it('relays cursor and selection updates to the others, never back to the sender', async () => {
    const doc = newDoc();
    await grant(doc, { alice: 'editor', bob: 'commenter' });
    const alice = await join('alice', doc);
    const bob = await join('bob', doc);
    alice.send({ action: 'presence', documentId: doc, cursor: { x: 10, y: 20 }, selection: { slideId: 's1', elementId: 'e3' } });
    const update = await bob.waitFor((m) => m.event === 'presence:update');
    expect(update).toMatchObject({ userId: 'alice', cursor: { x: 10, y: 20 }, selection: { slideId: 's1', elementId: 'e3' } });
    // alice's own ping round-trip proves her update was handled; she got no echo
    await alice.request({ action: 'ping' });
    expect(events(alice, 'presence:update')).toEqual([]);
    // a later joiner sees the cursor in the snapshot
    const bobTab = await join('bob', doc);
    const snap = events(bobTab, 'presence:snapshot')[0];
    expect(snap && 'members' in snap && snap.members.find((m) => m.userId === 'alice')).toMatchObject({ cursor: { x: 10, y: 20 } });
  });

  it('treats several tabs of one user as one member that leaves with its last tab', async () => {
    const doc = newDoc();
    await grant(doc, { alice: 'owner', bob: 'editor' });
    const alice = await join('alice', doc);
    const tab1 = await join('bob', doc);
    await alice.waitFor((m) => m.event === 'presence:user-joined');
    const tab2 = await join('bob', doc);
    // the second tab is the same member: same color, no second join
    const colors = [tab1, tab2].map((t) => {
      const s = events(t, 'presence:snapshot')[0];
      return s && 'members' in s ? s.members.find((m) => m.userId === 'bob')?.color : undefined;
    });
    expect(colors[0]).toBe(colors[1]);
    await tab1.request({ action: 'unsubscribe', channel: `presence.${doc}` });
    await alice.request({ action: 'ping' });
    expect(events(alice, 'presence:user-joined')).toHaveLength(1);
    expect(events(alice, 'presence:user-left')).toEqual([]);
    // the last tab closes: bob leaves
    await tab2.close();
    expect(await alice.waitFor((m) => m.event === 'presence:user-left')).toMatchObject({ userId: 'bob' });
  });

  it('expires a silent member, without any $disconnect, and tells the others', async () => {
    const doc = newDoc();
    await grant(doc, { alice: 'owner', carol: 'viewer' });
    const alice = await join('alice', doc);
    const before = new Set(product.runtime.gateway.connectionIds());
    await join('carol', doc);
    const carolId = product.runtime.gateway.connectionIds().find((id) => !before.has(id)) as string;
    // carol's laptop lid closes: her socket vanishes and API Gateway never runs $disconnect
    product.runtime.gateway.dropWithoutDisconnect(carolId);
    // alice keeps pinging (her heartbeat) until carol's silence passes the timeout
    const deadline = Date.now() + TIMEOUT_MS * 4;
    while (!events(alice, 'presence:user-left').length && Date.now() < deadline) {
      await alice.request({ action: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, 250)); // real time must pass: the runtime's clock is real
    }
    expect(events(alice, 'presence:user-left')).toEqual([expect.objectContaining({ userId: 'carol' })]);
  });

  it('gives members of one document distinct colors', async () => {
    const doc = newDoc();
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8'];
    await grant(doc, Object.fromEntries(users.map((u) => [u, 'viewer' as const])));
    const clients = [];
    for (const u of users) clients.push(await join(u, doc));
    const last = events(clients.at(-1) as TestClient, 'presence:snapshot')[0];
    const colors = last && 'members' in last ? last.members.map((m) => m.color) : [];
    expect(colors).toHaveLength(8);
    expect(new Set(colors).size).toBe(8);
  });

  it('drops cursor updates over 20 a second and tells the sender once', async () => {
    const doc = newDoc();
    await grant(doc, { alice: 'owner', bob: 'viewer' });
    const before = new Set(product.runtime.gateway.connectionIds());
    const alice = await join('alice', doc);
    const aliceId = product.runtime.gateway.connectionIds().find((id) => !before.has(id)) as string;
    const bob = await join('bob', doc);
    // Act: 40 updates at once (the handler runs them concurrently, as Lambda would)
    const done = product.handled(aliceId, 40);
    for (let i = 0; i < 40; i++) alice.send({ action: 'presence', documentId: doc, cursor: { x: i, y: i } });
    await done;
    await bob.request({ action: 'ping' });
    const limited = alice.messages.filter((m) => m.event === 'error' && m.code === 'RATE_LIMIT_EXCEEDED');
    expect(limited).toHaveLength(1);
    expect(limited[0]).toMatchObject({ retryAfterMs: expect.any(Number), channel: `presence.${doc}` });
    const received = events(bob, 'presence:update').length;
    expect(received).toBeGreaterThanOrEqual(20);
    expect(received).toBeLessThan(40);
  });
});

describe('document roles and events', () => {
  it('refuses presence and document channels without a role', async () => {
    const doc = newDoc();
    const mallory = await product.connect('mallory');
    expect(await mallory.request({ action: 'subscribe', channel: `presence.${doc}` })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await mallory.request({ action: 'subscribe', channel: `docs.${doc}` })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await mallory.request({ action: 'presence', documentId: doc, cursor: { x: 1, y: 1 } })).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('relays an editor\'s events to the other subscribers with offsets, and refuses viewers and commenters', async () => {
    const doc = newDoc();
    await grant(doc, { alice: 'editor', bob: 'viewer', carol: 'commenter' });
    const alice = await product.connect('alice');
    const aliceTab = await product.connect('alice');
    const bob = await product.connect('bob');
    const carol = await product.connect('carol');
    for (const c of [alice, aliceTab, bob, carol]) await c.subscribe(`docs.${doc}`);
    // an opaque base64 CRDT update must pass unchanged
    const update = Buffer.from(Array.from({ length: 20_000 }, (_, i) => i % 256)).toString('base64');
    const ack1 = await alice.request({ action: 'publish', channel: `docs.${doc}`, data: { update } });
    const ack2 = await alice.request({ action: 'publish', channel: `docs.${doc}`, data: { op: 'move', id: 'e3' } });
    expect(ack1).toMatchObject({ event: 'published', offset: 1 });
    expect(ack2).toMatchObject({ event: 'published', offset: 2 });
    for (const c of [aliceTab, bob, carol]) {
      await c.waitFor((m) => m.event === 'doc:event' && m.offset === 2);
      expect(c.channelMessages(`docs.${doc}`)).toEqual([
        { event: 'doc:event', channel: `docs.${doc}`, offset: 1, userId: 'alice', data: { update } },
        { event: 'doc:event', channel: `docs.${doc}`, offset: 2, userId: 'alice', data: { op: 'move', id: 'e3' } },
      ]);
    }
    expect(alice.channelMessages(`docs.${doc}`)).toEqual([]); // not echoed to the sender
    expect(await bob.request({ action: 'publish', channel: `docs.${doc}`, data: {} })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await carol.request({ action: 'publish', channel: `docs.${doc}`, data: {} })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await alice.request({ action: 'publish', channel: `docs.${doc}`, data: 'x'.repeat(33 * 1024) })).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(await alice.request({ action: 'publish', channel: 'jobs.J1', data: {} })).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('ends a revoked user\'s live subscriptions mid-session and tells each connection', async () => {
    // Prepare
    const doc = newDoc();
    await grant(doc, { alice: 'owner', bob: 'editor' });
    const alice = await join('alice', doc);
    await alice.subscribe(`docs.${doc}`);
    const bob = await join('bob', doc);
    await bob.subscribe(`docs.${doc}`);
    // Act
    await grant(doc, { bob: null });
    // Assess: bob is told per channel, alice sees him leave, and he gets nothing more
    const denied = await Promise.all([
      bob.waitFor((m) => m.event === 'error' && m.channel === `docs.${doc}`),
      bob.waitFor((m) => m.event === 'error' && m.channel === `presence.${doc}`),
    ]);
    for (const d of denied) expect(d).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await alice.waitFor((m) => m.event === 'presence:user-left')).toMatchObject({ userId: 'bob' });
    await alice.request({ action: 'publish', channel: `docs.${doc}`, data: { after: 'revocation' } });
    expect(await bob.request({ action: 'publish', channel: `docs.${doc}`, data: {} })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(bob.channelMessages(`docs.${doc}`)).toEqual([]);
    expect(await bob.request({ action: 'subscribe', channel: `docs.${doc}` })).toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});

describe('when Redis goes away', () => {
  it('answers PRESENCE_UNAVAILABLE, keeps jobs flowing, reports degraded health, and recovers', async () => {
    const doc = newDoc();
    await grant(doc, { alice: 'owner' });
    const alice = await join('alice', doc);
    const jobId = `during-outage-${Date.now().toString(36)}`;
    await alice.subscribe(`jobs.${jobId}`);
    // Act: Redis stops
    await redis.stop();
    try {
      expect(await alice.request({ action: 'presence', documentId: doc, cursor: { x: 1, y: 2 } })).toMatchObject({
        event: 'error',
        code: 'PRESENCE_UNAVAILABLE',
      });
      const other = await product.connect('alice');
      expect(await other.request({ action: 'subscribe', channel: `presence.${doc}` })).toMatchObject({ code: 'PRESENCE_UNAVAILABLE' });
      // jobs still flow, and ping still answers
      await product.publisher.publishJobUpdate({ jobId, userId: 'alice', status: 'running', progress: 42 });
      expect(await alice.waitFor((m) => m.event === 'job:update')).toMatchObject({ data: { progress: 42 } });
      expect(await alice.request({ action: 'ping' })).toMatchObject({ event: 'pong' });
      const health = await fetch(`${product.runtime.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'degraded', checks: expect.arrayContaining([expect.objectContaining({ name: 'presence', status: 'unhealthy', reason: expect.any(String) })]) });
    } finally {
      await redis.restart();
    }
    // Assess: presence comes back by itself
    const deadline = Date.now() + 10_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline) {
      healthy = (await product.runtime.health()).status === 'healthy';
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 200)); // the client reconnects on its own schedule
    }
    expect(healthy).toBe(true);
    const again = await product.connect('alice');
    await again.subscribe(`presence.${doc}`);
    expect(await again.waitFor((m) => m.event === 'presence:snapshot')).toMatchObject({ members: [expect.objectContaining({ userId: 'alice' })] });
  });
});
