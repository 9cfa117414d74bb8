/**
 * Presence wiring: Redis (ElastiCache) when REDIS_URL is set, else the memory engine, which
 * is right only where every handler shares one process: the local runtime.
 */
import { MemoryPresenceStore } from '../adapters/memory/presence-store.ts';
import { MemoryRateLimiter } from '../adapters/memory/rate-limiter.ts';
import { MemorySlotLimiter } from '../adapters/memory/slot-limiter.ts';
import { log, metricsPort } from '../adapters/powertools.ts';
import { Delivery } from '../domain/delivery.ts';
import { AbuseLimits } from '../domain/limits.ts';
import type { RedisEngines } from '../adapters/redis/engines.ts';
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
      // ioredis is loaded on the first presence call (see adapters/redis/engines.ts).
      // The abuse limits use the same client, so a connect or a message loads it on its first
      // call: the chunk moves out of the init phase, not out of the first request.
      let loading: Promise<RedisEngines> | undefined;
      const load = () =>
        (loading ??= import('../adapters/redis/engines.ts').then((m) => m.createRedisEngines(redisUrl, { clock, timeoutMs: presence.timeoutMs })));
      return {
        store: new LazyPresenceStore(async () => (await load()).store),
        limiter: new LazyRateLimiter(async () => (await load()).limiter),
        slots: new LazySlotLimiter(async () => (await load()).slots),
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

/** A PresenceStore that loads its engine on its first call. */
class LazyPresenceStore implements PresenceStore {
  constructor(private readonly engine: () => Promise<PresenceStore>) {}
  async join(...args: Parameters<PresenceStore['join']>) {
    return (await this.engine()).join(...args);
  }
  async update(...args: Parameters<PresenceStore['update']>) {
    return (await this.engine()).update(...args);
  }
  async touch(...args: Parameters<PresenceStore['touch']>) {
    return (await this.engine()).touch(...args);
  }
  async leave(...args: Parameters<PresenceStore['leave']>) {
    return (await this.engine()).leave(...args);
  }
  async leaveAll(...args: Parameters<PresenceStore['leaveAll']>) {
    return (await this.engine()).leaveAll(...args);
  }
  async members(...args: Parameters<PresenceStore['members']>) {
    return (await this.engine()).members(...args);
  }
  async ping() {
    return (await this.engine()).ping();
  }
}

class LazyRateLimiter implements RateLimiter {
  constructor(private readonly engine: () => Promise<RateLimiter>) {}
  async take(...args: Parameters<RateLimiter['take']>) {
    return (await this.engine()).take(...args);
  }
}

class LazySlotLimiter implements SlotLimiter {
  constructor(private readonly engine: () => Promise<SlotLimiter>) {}
  async acquire(...args: Parameters<SlotLimiter['acquire']>) {
    return (await this.engine()).acquire(...args);
  }
  async release(...args: Parameters<SlotLimiter['release']>) {
    return (await this.engine()).release(...args);
  }
  async releasePrefix(...args: Parameters<SlotLimiter['releasePrefix']>) {
    return (await this.engine()).releasePrefix(...args);
  }
}
