/**
 * In-memory SlotLimiter. SINGLE-PROCESS ONLY (tests, the local runtime): each Lambda instance
 * would count its own slots. Same observable behaviour as RedisSlotLimiter, checked by
 * test/contract/slot-limiter.contract.ts.
 */
import { systemClock, type Clock, type SlotLimiter } from '../../domain/ports.ts';

export interface MemorySlotLimiterOptions {
  clock?: Clock;
}

export class MemorySlotLimiter implements SlotLimiter {
  private readonly clock: Clock;
  /** key -> member -> expiresAt (ms). */
  private readonly slots = new Map<string, Map<string, number>>();

  constructor(options: MemorySlotLimiterOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  acquire(key: string, member: string, limit: number, expiresAt: number): Promise<boolean> {
    if (!(Number.isInteger(limit) && limit >= 1)) return Promise.reject(new RangeError(`limit must be an integer >= 1 (got ${String(limit)})`));
    const now = this.clock.now();
    const held = this.slots.get(key) ?? new Map<string, number>();
    for (const [m, until] of held) if (until <= now) held.delete(m);
    const current = held.get(member);
    if (current === undefined && held.size >= limit) {
      if (held.size === 0) this.slots.delete(key);
      return Promise.resolve(false);
    }
    held.set(member, Math.max(current ?? 0, expiresAt));
    this.slots.set(key, held);
    return Promise.resolve(true);
  }

  release(key: string, members: readonly string[]): Promise<void> {
    const held = this.slots.get(key);
    if (held) {
      for (const m of members) held.delete(m);
      if (held.size === 0) this.slots.delete(key);
    }
    return Promise.resolve();
  }

  releasePrefix(key: string, prefix: string): Promise<void> {
    const held = this.slots.get(key);
    return this.release(key, held ? [...held.keys()].filter((m) => m.startsWith(prefix)) : []);
  }
}
