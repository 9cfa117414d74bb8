/**
 * RateLimiter on Redis: a token bucket per key, shared by every Lambda. Same observable
 * behaviour as MemoryRateLimiter, checked by test/contract/rate-limiter.contract.ts.
 *
 * One HASH per bucket, `rt:rl:{key}` (`rt` is `keyPrefix`; the key is the hash tag), with
 * fields `tokens` and `ts` (ms of the last computation). One Lua script reads, refills
 * (tokens = min(capacity, tokens + elapsed x refillPerSec)), takes a token when at least one
 * is there, writes back, and sets PEXPIRE to the time the bucket needs to be full again (plus
 * a margin): an expired bucket reads as full, which is what it would be by then. A refusal
 * carries retryAfterMs = ceil((1 - tokens) / refillPerSec x 1000) (both comparisons with the
 * same tiny float tolerance as MemoryRateLimiter).
 *
 * Time comes from the injected clock (ARGV, never Redis TIME), and never runs backwards for a
 * bucket (a Lambda whose clock lags cannot refill it twice).
 *
 * Errors: it is the presence Redis, so an unreachable Redis becomes PresenceUnavailableError
 * (with the ioredis error as `cause`), like RedisPresenceStore; callers decide whether to fail
 * open or closed.
 */
import type { Cluster, Redis } from 'ioredis';
import { systemClock, type Clock, type RateLimiter } from '../../domain/ports.ts';
import { callRedis, defineScript } from './client.ts';

export interface RedisRateLimiterOptions {
  client: Redis | Cluster;
  clock?: Clock;
  /** First segment of every key. Default 'rt'. */
  keyPrefix?: string;
}

/** Added to the bucket's time-to-full in its PEXPIRE. */
const EXPIRY_MARGIN_MS = 1_000;

const TAKE_LUA = `
local now, capacity, rate, margin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then
  tokens, at = capacity, now
elseif now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
  at = now
else
  tokens = math.min(capacity, tokens)
end
local allowed, retryAfter = 0, 0
-- Float error tolerance, as in MemoryRateLimiter (EPSILON 1e-9, EPSILON_MS 1e-6).
if tokens >= 1 - 1e-9 then
  tokens = tokens - 1
  allowed = 1
else
  retryAfter = math.max(1, math.ceil((1 - tokens) / rate * 1000 - 1e-6))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + margin)
return {allowed, retryAfter}
`;

export class RedisRateLimiter implements RateLimiter {
  private readonly client: Redis | Cluster;
  private readonly clock: Clock;
  private readonly prefix: string;
  private readonly script: (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

  constructor(options: RedisRateLimiterOptions) {
    this.client = options.client;
    this.clock = options.clock ?? systemClock;
    this.prefix = options.keyPrefix ?? 'rt';
    this.script = defineScript(this.client, 'rtRateLimitTake', TAKE_LUA, 1);
  }

  bucketKey(key: string): string {
    return `${this.prefix}:rl:{${key}}`;
  }

  async take(key: string, capacity: number, refillPerSec: number): Promise<{ allowed: boolean; retryAfterMs?: number }> {
    checkLimits(capacity, refillPerSec);
    const now = this.clock.now();
    const reply = await callRedis(this.client, () =>
      this.script([this.bucketKey(key)], [String(now), String(capacity), String(refillPerSec), String(EXPIRY_MARGIN_MS)]),
    );
    if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number') {
      throw new Error(`Unexpected rate limiter reply: ${JSON.stringify(reply)}`);
    }
    return reply[0] === 1 ? { allowed: true } : { allowed: false, retryAfterMs: reply[1] };
  }
}

/** The same checks as MemoryRateLimiter: nonsense limits are a caller bug. */
function checkLimits(capacity: number, refillPerSec: number): void {
  if (!(Number.isFinite(capacity) && capacity >= 1)) throw new RangeError(`capacity must be >= 1 (got ${String(capacity)})`);
  if (!(Number.isFinite(refillPerSec) && refillPerSec > 0)) {
    throw new RangeError(`refillPerSec must be > 0 (got ${String(refillPerSec)})`);
  }
}
