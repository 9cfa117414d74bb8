/**
 * One redis-server and one client for a test file: started before its tests, stopped after.
 * The getters read them once the file's `beforeAll` has run.
 */
import { afterAll, beforeAll } from 'vitest';
import { createRedisClient, type RedisClient } from '../../functions/adapters/redis/client.ts';
import { startRedis, type LocalRedis } from './redis.ts';

export function useRedisClient(): { readonly redis: LocalRedis; readonly client: RedisClient } {
  let redis: LocalRedis | undefined;
  let client: RedisClient | undefined;
  beforeAll(async () => {
    redis = await startRedis();
    client = createRedisClient(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });
  return {
    get redis() {
      if (!redis) throw new Error('useRedisClient: read before beforeAll ran');
      return redis;
    },
    get client() {
      if (!client) throw new Error('useRedisClient: read before beforeAll ran');
      return client;
    },
  };
}
