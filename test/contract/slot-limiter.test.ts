import { describe, expect, it } from 'vitest';
import { createRedisClient } from '../../functions/adapters/redis/client.ts';
import { MemorySlotLimiter } from '../../functions/adapters/memory/slot-limiter.ts';
import { RedisSlotLimiter } from '../../functions/adapters/redis/slot-limiter.ts';
import { PresenceUnavailableError } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';
import { startRedis } from '../support/redis.ts';
import { useRedisClient } from '../support/redis-client.ts';
import { describeSlotLimiterContract } from './slot-limiter.contract.ts';

const local = useRedisClient();

describeSlotLimiterContract('memory', ({ clock }) => new MemorySlotLimiter({ clock }));
describeSlotLimiterContract('Redis', ({ clock }) => new RedisSlotLimiter({ client: local.client, clock }));

describe('RedisSlotLimiter (Redis only)', () => {
  it('keeps one sorted set per key that expires with its last member', async () => {
    const limiter = new RedisSlotLimiter({ client: local.client }); // the system clock: PEXPIREAT is real time
    const key = uniqueId('slots');
    await limiter.acquire(key, 'conn-1', 5, Date.now() + 30_000);
    expect(limiter.setKey(key)).toBe(`rt:sl:{${key}}`);
    expect(await local.client.zrange(`rt:sl:{${key}}`, '0', '-1')).toStrictEqual(['conn-1']);
    const pttl = await local.client.pttl(`rt:sl:{${key}}`);
    expect(pttl).toBeGreaterThan(25_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });

  it('rejects with PresenceUnavailableError when Redis is down', async () => {
    const server = await startRedis();
    const own = createRedisClient(server.url);
    try {
      const limiter = new RedisSlotLimiter({ client: own, clock: new FakeClock() });
      expect(await limiter.acquire('k', 'a', 1, Date.now() + 1000)).toBe(true);
      await server.stop();
      await expect(limiter.acquire('k', 'b', 1, Date.now() + 1000)).rejects.toBeInstanceOf(PresenceUnavailableError);
      await expect(limiter.release('k', ['a'])).rejects.toBeInstanceOf(PresenceUnavailableError);
    } finally {
      own.disconnect();
      await server.stop();
    }
  });
});
