import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../../functions/adapters/memory/presence-store.ts';
import { createRedisClient, type RedisClient } from '../../functions/adapters/redis/client.ts';
import { RedisPresenceStore } from '../../functions/adapters/redis/presence-store.ts';
import { PresenceUnavailableError, type PresenceStore } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';
import { startRedis, type LocalRedis } from '../support/redis.ts';
import { describePresenceStoreContract } from './presence-store.contract.ts';

const TIMEOUT_MS = 30_000;

let redis: LocalRedis;
let client: RedisClient;
let cluster: LocalRedis;
let clusterClient: RedisClient;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedis({ cluster: true })]);
  client = createRedisClient(redis.url);
  clusterClient = createRedisClient(cluster.url);
});
afterAll(async () => {
  client.disconnect();
  clusterClient.disconnect();
  await Promise.all([redis.stop(), cluster.stop()]);
});

describePresenceStoreContract('memory', ({ clock, timeoutMs }) => new MemoryPresenceStore({ clock, timeoutMs }));
describePresenceStoreContract('Redis', ({ clock, timeoutMs }) => new RedisPresenceStore({ client, clock, timeoutMs }));
describePresenceStoreContract(
  'Redis Cluster',
  ({ clock, timeoutMs }) => new RedisPresenceStore({ client: clusterClient, clock, timeoutMs }),
);

/** The hash tag Redis Cluster hashes: the text between the first `{` and the next `}`, if not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('RedisPresenceStore (Redis only)', () => {
  const setup = (keyPrefix?: string) => {
    const clock = new FakeClock();
    const store = new RedisPresenceStore({ client, clock, timeoutMs: TIMEOUT_MS, ...(keyPrefix ? { keyPrefix } : {}) });
    const connection = () => ({ connectionId: uniqueId('conn'), userId: uniqueId('user'), name: 'Ada' });
    return { clock, store, connection };
  };

  it('keeps every key of a document in one hash slot, tagged with the document id', async () => {
    const { store, connection } = setup();
    const documentId = uniqueId('doc');
    const ada = connection();
    await store.join(documentId, ada);
    const keys = (await client.keys(`rt:presence:{${documentId}}:*`)).sort();
    expect(keys).toStrictEqual(
      [
        `rt:presence:{${documentId}}:members`,
        `rt:presence:{${documentId}}:conns`,
        `rt:presence:{${documentId}}:connuser`,
      ].sort(),
    );
    expect(new Set(keys.map(hashTag))).toStrictEqual(new Set([documentId]));
    expect(await client.smembers(`rt:presence:conn:{${ada.connectionId}}`)).toStrictEqual([documentId]);
    expect(store.documentKeys(documentId)).toStrictEqual([
      `rt:presence:{${documentId}}:members`,
      `rt:presence:{${documentId}}:conns`,
      `rt:presence:{${documentId}}:connuser`,
    ]);
  });

  it('puts a document in one slot of a real cluster (CLUSTER KEYSLOT)', async () => {
    const { connection } = setup();
    const store = new RedisPresenceStore({ client: clusterClient, clock: new FakeClock(), timeoutMs: TIMEOUT_MS });
    const documentId = uniqueId('doc');
    await store.join(documentId, connection());
    const slots = await Promise.all(
      store.documentKeys(documentId).map((key) => clusterClient.call('CLUSTER', 'KEYSLOT', key)),
    );
    expect(new Set(slots).size).toBe(1);
  });

  it('uses the key prefix', async () => {
    const { store, connection } = setup('custom');
    const documentId = uniqueId('doc');
    await store.join(documentId, connection());
    expect(await client.exists(`custom:presence:{${documentId}}:members`)).toBe(1);
    expect(await client.exists(`rt:presence:{${documentId}}:members`)).toBe(0);
  });

  it('lets the keys of a document expire 2 x timeout after the last write, and refreshes them on every write', async () => {
    const { store, connection } = setup();
    const documentId = uniqueId('doc');
    const ada = connection();
    await store.join(documentId, ada);
    const keys = [...store.documentKeys(documentId), store.connectionKey(ada.connectionId)];
    for (const key of keys) {
      const pttl = await client.pttl(key);
      expect(pttl, key).toBeGreaterThan(2 * TIMEOUT_MS - 5_000);
      expect(pttl, key).toBeLessThanOrEqual(2 * TIMEOUT_MS);
    }
    // Shorten them by hand; the next writes put them back to 2 x timeout.
    for (const key of keys) await client.pexpire(key, 1_000);
    await store.touch(ada.connectionId);
    for (const key of keys) expect(await client.pttl(key), key).toBeGreaterThan(2 * TIMEOUT_MS - 5_000);
    for (const key of keys) await client.pexpire(key, 1_000);
    await store.update(documentId, ada.connectionId, { cursor: { x: 1, y: 1 } });
    for (const key of keys) expect(await client.pttl(key), key).toBeGreaterThan(2 * TIMEOUT_MS - 5_000);
  });

  it('deletes the keys of a document when its last connection leaves', async () => {
    const { store, connection } = setup();
    const documentId = uniqueId('doc');
    const ada = connection();
    const bob = connection();
    await store.join(documentId, ada);
    await store.join(documentId, bob);
    await store.leave(documentId, ada.connectionId);
    expect(await client.exists(...store.documentKeys(documentId))).toBe(3);
    await store.leaveAll(bob.connectionId);
    expect(await client.exists(...store.documentKeys(documentId))).toBe(0);
    expect(await client.exists(store.connectionKey(ada.connectionId), store.connectionKey(bob.connectionId))).toBe(0);
  });

  it('deletes the keys of a document whose last connection expired, on the sweep', async () => {
    const { clock, store, connection } = setup();
    const [d1, d2] = [uniqueId('doc'), uniqueId('doc')];
    const ada = connection();
    await store.join(d1, ada);
    await store.join(d2, ada);
    clock.advanceSeconds(TIMEOUT_MS / 1000 + 1);
    const touched = await store.touch(ada.connectionId);
    expect(touched.documentIds).toStrictEqual([]);
    expect(await client.exists(...store.documentKeys(d1), ...store.documentKeys(d2))).toBe(0);
    // The connection's index forgets the documents it is no longer in.
    expect(await client.exists(store.connectionKey(ada.connectionId))).toBe(0);
  });

  it('stores lastSeen as ISO 8601 and connection scores as epoch ms from the injected clock', async () => {
    const { clock, store, connection } = setup();
    const documentId = uniqueId('doc');
    const ada = connection();
    await store.join(documentId, ada);
    const [members, conns] = store.documentKeys(documentId);
    expect(JSON.parse((await client.hget(members, ada.userId)) ?? '{}')).toMatchObject({
      lastSeen: new Date(clock.now()).toISOString(),
    });
    expect(Number(await client.zscore(conns, ada.connectionId))).toBe(clock.now());
  });
});

describe('createRedisClient', () => {
  it('builds a fail-fast standalone client from redis:// (lazy: nothing connects here)', () => {
    const c = createRedisClient('redis://:secret@cache.example.test:6380/2');
    try {
      expect(c).toBeInstanceOf(Redis);
      expect((c as Redis).options).toMatchObject({
        host: 'cache.example.test',
        port: 6380,
        db: 2,
        password: 'secret',
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        lazyConnect: true,
      });
      expect((c as Redis).options.tls).toBeUndefined();
      const retry = (c as Redis).options.retryStrategy;
      expect(retry?.(100)).toBeLessThanOrEqual(2_100);
      expect(retry?.(100)).toBeGreaterThanOrEqual(2_000);
    } finally {
      c.disconnect();
    }
  });

  it('builds a TLS Cluster client from rediss://...?cluster=true (ElastiCache Serverless)', () => {
    const c = createRedisClient('rediss://app:p%40ss@my-cache.serverless.use1.cache.amazonaws.com:6379?cluster=true');
    try {
      expect(c).toBeInstanceOf(Cluster);
      const options = (c as Cluster).options;
      expect(options).toMatchObject({ enableOfflineQueue: false, lazyConnect: true });
      expect(options.redisOptions).toMatchObject({
        username: 'app',
        password: 'p@ss',
        tls: { servername: 'my-cache.serverless.use1.cache.amazonaws.com' },
        maxRetriesPerRequest: 1,
      });
      let resolved: string | undefined;
      options.dnsLookup?.('my-cache.serverless.use1.cache.amazonaws.com', (_err, address) => (resolved = address));
      expect(resolved).toBe('my-cache.serverless.use1.cache.amazonaws.com');
    } finally {
      c.disconnect();
    }
  });

  it('refuses other schemes', () => {
    expect(() => createRedisClient('http://localhost:6379')).toThrow(/scheme/);
  });
});

describe('Redis presence outage', () => {
  const outage = (mode: 'standalone' | 'cluster') => {
    let server: LocalRedis;
    let outageClient: RedisClient;
    let store: PresenceStore;
    beforeAll(async () => {
      server = await startRedis({ cluster: mode === 'cluster' });
      outageClient = createRedisClient(server.url);
      store = new RedisPresenceStore({ client: outageClient, clock: new FakeClock(), timeoutMs: TIMEOUT_MS });
    });
    afterAll(async () => {
      outageClient.disconnect();
      await server.stop();
    });

    it(`(${mode}) rejects every call quickly with PresenceUnavailableError, then recovers`, async () => {
      const documentId = uniqueId('doc');
      const ada = { connectionId: uniqueId('conn'), userId: uniqueId('user'), name: 'Ada' };
      await store.join(documentId, ada);
      await server.stop();

      const calls: [string, () => Promise<unknown>][] = [
        ['join', () => store.join(documentId, { ...ada, connectionId: uniqueId('conn') })],
        ['update', () => store.update(documentId, ada.connectionId, { cursor: { x: 1, y: 1 } })],
        ['touch', () => store.touch(ada.connectionId)],
        ['leave', () => store.leave(documentId, ada.connectionId)],
        ['leaveAll', () => store.leaveAll(ada.connectionId)],
        ['members', () => store.members(documentId)],
        ['ping', () => store.ping()],
      ];
      for (const [name, call] of calls) {
        const started = performance.now();
        const error: unknown = await call().then(
          () => new Error(`${name} resolved while Redis is down`),
          (e: unknown) => e,
        );
        const elapsed = performance.now() - started;
        expect(error, name).toBeInstanceOf(PresenceUnavailableError);
        expect((error as Error).cause, name).toBeInstanceOf(Error);
        expect(elapsed, name).toBeLessThan(2_000);
      }

      await server.restart();
      await waitUntil(() => store.ping(), 15_000);
      // The restarted server is empty: presence starts over, and works.
      const again = await store.join(documentId, ada);
      expect(again.joined).toBe(true);
      expect((await store.members(documentId)).map((m) => m.userId)).toStrictEqual([ada.userId]);
    });
  };
  outage('standalone');
  outage('cluster');
});

/** Retries `attempt` until it resolves (bounded): the client reconnects on its own schedule. */
async function waitUntil(attempt: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
