/**
 * The Redis engines (presence, rate limits, slots) in one module, the target of the wiring's
 * dynamic import: ioredis (about 175 KB minified) is a chunk of its own, loaded on the first
 * call that needs Redis rather than in the init phase. With the abuse limits on Redis, connect,
 * message and disconnect make that call on their first request; most fan-outs never do.
 */
import type { Clock, PresenceStore, RateLimiter, SlotLimiter } from '../../domain/ports.ts';
import { createRedisClient } from './client.ts';
import { RedisPresenceStore } from './presence-store.ts';
import { RedisRateLimiter } from './rate-limiter.ts';
import { RedisSlotLimiter } from './slot-limiter.ts';

export interface RedisEngines {
  store: PresenceStore;
  limiter: RateLimiter;
  slots: SlotLimiter;
}

export function createRedisEngines(url: string, options: { clock: Clock; timeoutMs: number }): RedisEngines {
  const client = createRedisClient(url);
  return {
    store: new RedisPresenceStore({ client, clock: options.clock, timeoutMs: options.timeoutMs }),
    limiter: new RedisRateLimiter({ client, clock: options.clock }),
    slots: new RedisSlotLimiter({ client, clock: options.clock }),
  };
}
