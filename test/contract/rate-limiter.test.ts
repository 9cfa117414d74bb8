import { describe, expect, it } from 'vitest';
import { createRedisClient } from '../../functions/adapters/redis/client.ts';
import { MemoryRateLimiter } from '../../functions/adapters/memory/rate-limiter.ts';
import { RedisRateLimiter } from '../../functions/adapters/redis/rate-limiter.ts';
import { PresenceUnavailableError } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';
import { startRedis } from '../support/redis.ts';
import { useRedisClient } from '../support/redis-client.ts';
import { describeRateLimiterContract } from './rate-limiter.contract.ts';

const local = useRedisClient();

describeRateLimiterContract('memory', ({ clock }) => new MemoryRateLimiter({ clock }));
describeRateLimiterContract('Redis', ({ clock }) => new RedisRateLimiter({ client: local.client, clock }));

describe('RedisRateLimiter (Redis only)', () => {
  it('keeps a bucket in one hash tagged by its key, expiring once it would be full again', async () => {
    const limiter = new RedisRateLimiter({ client: local.client, clock: new FakeClock() });
    const key = uniqueId('rl');
    await limiter.take(key, 10, 2); // 9 tokens left: full again in 500 ms
    expect(limiter.bucketKey(key)).toBe(`rt:rl:{${key}}`);
    expect(await local.client.hgetall(`rt:rl:{${key}}`)).toMatchObject({ tokens: '9' });
    const pttl = await local.client.pttl(`rt:rl:{${key}}`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(500 + 1_000);
  });

  it('rejects with PresenceUnavailableError when Redis is down, quickly, and recovers', async () => {
    const server = await startRedis();
    const own = createRedisClient(server.url);
    try {
      const limiter = new RedisRateLimiter({ client: own, clock: new FakeClock() });
      expect((await limiter.take('k', 1, 1)).allowed).toBe(true);
      await server.stop();
      const started = performance.now();
      const error: unknown = await limiter.take('k', 1, 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PresenceUnavailableError);
      expect(performance.now() - started).toBeLessThan(2_000);
      await server.restart();
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          expect((await limiter.take('k', 1, 1)).allowed).toBe(true); // an empty server: a full bucket
          break;
        } catch (e) {
          if (!(e instanceof PresenceUnavailableError) || Date.now() > deadline) throw e;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      own.disconnect();
      await server.stop();
    }
  });
});
