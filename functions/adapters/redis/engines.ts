/**
 * The Redis presence engines in one module, the target of the wiring's dynamic import: ioredis
 * (about 175 KB minified) is loaded on the first presence call, not at every cold start of the
 * handlers that may never touch presence (connect, disconnect, most messages, most fan-outs).
 */
import type { Clock, PresenceStore, RateLimiter } from '../../domain/ports.ts';
import { createRedisClient } from './client.ts';
import { RedisPresenceStore } from './presence-store.ts';
import { RedisRateLimiter } from './rate-limiter.ts';

export function createRedisEngines(url: string, options: { clock: Clock; timeoutMs: number }): { store: PresenceStore; limiter: RateLimiter } {
  const client = createRedisClient(url);
  return {
    store: new RedisPresenceStore({ client, clock: options.clock, timeoutMs: options.timeoutMs }),
    limiter: new RedisRateLimiter({ client, clock: options.clock }),
  };
}
