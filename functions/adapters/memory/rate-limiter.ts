/**
 * In-memory RateLimiter. SINGLE-PROCESS ONLY: the buckets live in this object, so it suits
 * tests and the local runtime, never more than one Lambda instance (each would have its own
 * buckets). Same observable behaviour as RedisRateLimiter, checked by
 * test/contract/rate-limiter.contract.ts.
 *
 * A token bucket per key with continuous refill: tokens = min(capacity, tokens + elapsed x
 * refillPerSec); a take consumes one token when at least one is there, else it is refused with
 * retryAfterMs = ceil((1 - tokens) / refillPerSec x 1000), both with a tiny tolerance for
 * float error (see EPSILON). A new (or forgotten) bucket is full.
 * A bucket is forgotten once it would be full again, as the Redis key expires. Time comes from
 * the injected clock and never runs backwards for a bucket.
 */
import { systemClock, type Clock, type RateLimiter } from '../../domain/ports.ts';

export interface MemoryRateLimiterOptions {
  clock?: Clock;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was computed (ms). */
  at: number;
  /** When the bucket is full again (ms): after that it is as good as absent. */
  fullAt: number;
}

/** Continuous refill accumulates float error (0.4 + 0.598 is 0.9979999...): a token that is
 * there up to EPSILON counts, and retryAfterMs ignores EPSILON_MS of excess (but is >= 1).
 * RedisRateLimiter does the same arithmetic in the same order. */
const EPSILON = 1e-9;
const EPSILON_MS = 1e-6;

/** Prune the map of full buckets every this many takes. */
const PRUNE_EVERY = 1_000;

export class MemoryRateLimiter implements RateLimiter {
  private readonly clock: Clock;
  private readonly buckets = new Map<string, Bucket>();
  private takes = 0;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  take(key: string, capacity: number, refillPerSec: number): Promise<{ allowed: boolean; retryAfterMs?: number }> {
    try {
      checkLimits(capacity, refillPerSec);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const now = this.clock.now();
    if (++this.takes % PRUNE_EVERY === 0) this.prune(now);
    const bucket = this.buckets.get(key);
    const at = bucket ? Math.max(bucket.at, now) : now;
    let tokens = bucket ? Math.min(capacity, bucket.tokens + ((at - bucket.at) * refillPerSec) / 1000) : capacity;
    let result: { allowed: boolean; retryAfterMs?: number };
    if (tokens >= 1 - EPSILON) {
      tokens -= 1;
      result = { allowed: true };
    } else {
      result = { allowed: false, retryAfterMs: Math.max(1, Math.ceil(((1 - tokens) / refillPerSec) * 1000 - EPSILON_MS)) };
    }
    this.buckets.set(key, { tokens, at, fullAt: at + Math.ceil(((capacity - tokens) / refillPerSec) * 1000) });
    return Promise.resolve(result);
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.fullAt <= now) this.buckets.delete(key);
  }
}

/** Both engines refuse nonsense limits the same way. */
function checkLimits(capacity: number, refillPerSec: number): void {
  if (!(Number.isFinite(capacity) && capacity >= 1)) throw new RangeError(`capacity must be >= 1 (got ${String(capacity)})`);
  if (!(Number.isFinite(refillPerSec) && refillPerSec > 0)) {
    throw new RangeError(`refillPerSec must be > 0 (got ${String(refillPerSec)})`);
  }
}
