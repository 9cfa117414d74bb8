/**
 * Presence wiring: Redis (ElastiCache) when REDIS_URL is set, else the memory engine, which
 * is right only where every handler shares one process: the local runtime.
 */
import { MemoryPresenceStore } from '../adapters/memory/presence-store.ts';
import { MemoryRateLimiter } from '../adapters/memory/rate-limiter.ts';
import { MemorySlotLimiter } from '../adapters/memory/slot-limiter.ts';
import { log, metricsPort } from '../adapters/powertools.ts';
import { createRedisClient } from '../adapters/redis/client.ts';
import { RedisPresenceStore } from '../adapters/redis/presence-store.ts';
import { RedisRateLimiter } from '../adapters/redis/rate-limiter.ts';
import { RedisSlotLimiter } from '../adapters/redis/slot-limiter.ts';
import { Delivery } from '../domain/delivery.ts';
import { AbuseLimits } from '../domain/limits.ts';
import type { PresenceStore, RateLimiter, SlotLimiter } from '../domain/ports.ts';
import { PresenceService } from '../domain/presence.ts';
import { config, once } from './common.ts';
import { gateway } from './gateway.ts';
import { clock, connections, documentRoles, subscriptions } from './stores.ts';

export { documentRoles };

/** The engines on the presence Redis (or in memory): presence, token buckets, slots. */
const engines = (): { store: PresenceStore; limiter: RateLimiter; slots: SlotLimiter } =>
  once('presenceEngines', () => {
    const { redisUrl, presence } = config();
    if (redisUrl) {
      const client = createRedisClient(redisUrl);
      return {
        store: new RedisPresenceStore({ client, clock, timeoutMs: presence.timeoutMs }),
        limiter: new RedisRateLimiter({ client, clock }),
        slots: new RedisSlotLimiter({ client, clock }),
      };
    }
    if (process.env['AWS_LAMBDA_FUNCTION_NAME'] && !process.env['REALTIME_LOCAL_RUNTIME']) {
      log.warn('REDIS_URL is not set: presence is kept in this Lambda instance only');
    }
    return {
      store: new MemoryPresenceStore({ clock, timeoutMs: presence.timeoutMs }),
      limiter: new MemoryRateLimiter({ clock }),
      slots: new MemorySlotLimiter({ clock }),
    };
  });

/** Abuse limits (message rate, connections per IP and per user, subscriptions per user). */
export const abuseLimits = (): AbuseLimits =>
  once('abuseLimits', () => {
    const { limiter, slots } = engines();
    return new AbuseLimits({ rateLimiter: limiter, slots, clock, log, metrics: metricsPort }, config().limits);
  });

export const presenceStore = (): PresenceStore => engines().store;

/** Delivery for messages sent from a request (presence, document events): prunes gone connections and lets them leave presence. */
export const requestDelivery = (endpoint?: string): Delivery =>
  once(`requestDelivery:${config().managementEndpoint ?? endpoint ?? ''}`, () => {
    const { fanout } = config();
    return new Delivery(
      {
        gateway: gateway(endpoint),
        subscriptions: subscriptions(),
        connections: connections(),
        clock,
        log,
        metrics: metricsPort,
        afterPrune: (connectionId) => presenceService(endpoint).leaveAll(connectionId),
      },
      { concurrency: fanout.concurrency, maxAttempts: fanout.maxAttempts },
    );
  });

export const presenceService = (endpoint?: string): PresenceService =>
  once(`presence:${config().managementEndpoint ?? endpoint ?? ''}`, () => {
    const { store, limiter } = engines();
    return new PresenceService(
      { store, limiter, subscriptions: subscriptions(), gateway: gateway(endpoint), delivery: requestDelivery(endpoint), log, metrics: metricsPort },
      { updatesPerSecond: config().presence.updatesPerSecond },
    );
  });
