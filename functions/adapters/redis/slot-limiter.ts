/**
 * SlotLimiter on Redis: one sorted set per key, `rt:sl:{key}`, members scored by their expiry
 * (epoch ms). One Lua script drops expired members, refuses a new member when `limit` are
 * held, adds (or extends) it, and sets the key to expire with its last member, so an
 * abandoned key cleans itself up. Same observable behaviour as MemorySlotLimiter, checked by
 * test/contract/slot-limiter.contract.ts.
 *
 * Time comes from the injected clock (ARGV, never Redis TIME). An unreachable Redis becomes
 * PresenceUnavailableError, as for every adapter on the presence Redis; callers fail open.
 */
import { systemClock, type Clock, type SlotLimiter } from '../../domain/ports.ts';
import { callRedis, defineScript, type RedisClient } from './client.ts';

export interface RedisSlotLimiterOptions {
  client: RedisClient;
  clock?: Clock;
  /** First segment of every key. Default 'rt'. */
  keyPrefix?: string;
}

const ACQUIRE_LUA = `
local now, limit, expires, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local current = redis.call('ZSCORE', KEYS[1], member)
if not current then
  if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
elseif tonumber(current) > expires then
  expires = tonumber(current)
end
redis.call('ZADD', KEYS[1], string.format('%d', expires), member)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
`;

// A user holds at most a few hundred members: reading them all is cheap.
const RELEASE_PREFIX_LUA = `
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = 0
for _, m in ipairs(members) do
  if string.sub(m, 1, string.len(ARGV[1])) == ARGV[1] then
    removed = removed + redis.call('ZREM', KEYS[1], m)
  end
end
return removed
`;

export class RedisSlotLimiter implements SlotLimiter {
  private readonly client: RedisClient;
  private readonly clock: Clock;
  private readonly prefix: string;
  private readonly script: (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;
  private readonly releasePrefixScript: (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

  constructor(options: RedisSlotLimiterOptions) {
    this.client = options.client;
    this.clock = options.clock ?? systemClock;
    this.prefix = options.keyPrefix ?? 'rt';
    this.script = defineScript(this.client, 'rtSlotAcquire', ACQUIRE_LUA, 1);
    this.releasePrefixScript = defineScript(this.client, 'rtSlotReleasePrefix', RELEASE_PREFIX_LUA, 1);
  }

  setKey(key: string): string {
    return `${this.prefix}:sl:{${key}}`;
  }

  async acquire(key: string, member: string, limit: number, expiresAt: number): Promise<boolean> {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`limit must be an integer >= 1 (got ${String(limit)})`);
    const now = this.clock.now();
    const reply = await callRedis(this.client, () =>
      this.script([this.setKey(key)], [String(now), String(limit), String(Math.ceil(expiresAt)), member]),
    );
    return reply === 1;
  }

  async release(key: string, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    await callRedis(this.client, () => this.client.zrem(this.setKey(key), ...members));
  }

  async releasePrefix(key: string, prefix: string): Promise<void> {
    await callRedis(this.client, () => this.releasePrefixScript([this.setKey(key)], [prefix]));
  }
}
