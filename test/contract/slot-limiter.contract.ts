/**
 * The SlotLimiter contract: every engine must pass it (see slot-limiter.test.ts). Time is a
 * FakeClock; keys are unique per test, so engines may share one Redis.
 */
import { describe, expect, it } from 'vitest';
import type { Clock, SlotLimiter } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type SlotLimiterFactory = (options: { clock: Clock }) => SlotLimiter;

export function describeSlotLimiterContract(name: string, factory: SlotLimiterFactory): void {
  function setup() {
    const clock = new FakeClock();
    return { clock, limiter: factory({ clock }), key: uniqueId('slots'), later: clock.now() + 60_000 };
  }

  describe(`SlotLimiter (${name})`, () => {
    it('holds up to `limit` members, then refuses a new one', async () => {
      const { limiter, key, later } = setup();
      for (const m of ['a', 'b', 'c']) expect(await limiter.acquire(key, m, 3, later)).toBe(true);
      expect(await limiter.acquire(key, 'd', 3, later)).toBe(false);
    });

    it('lets a member already held acquire again at the limit', async () => {
      const { limiter, key, later } = setup();
      await limiter.acquire(key, 'a', 2, later);
      await limiter.acquire(key, 'b', 2, later);
      expect(await limiter.acquire(key, 'a', 2, later)).toBe(true);
      expect(await limiter.acquire(key, 'c', 2, later)).toBe(false);
    });

    it('frees released members, ignoring absent ones', async () => {
      const { limiter, key, later } = setup();
      await limiter.acquire(key, 'a', 2, later);
      await limiter.acquire(key, 'b', 2, later);
      await limiter.release(key, ['a', 'never-held']);
      await limiter.release(key, []);
      expect(await limiter.acquire(key, 'c', 2, later)).toBe(true);
      expect(await limiter.acquire(key, 'd', 2, later)).toBe(false);
    });

    it('frees every member that starts with a prefix, and only those', async () => {
      const { limiter, key, later } = setup();
      for (const m of ['conn-1 docs.A', 'conn-1 jobs.B', 'conn-10 docs.A', 'conn-2 docs.A']) await limiter.acquire(key, m, 4, later);
      await limiter.releasePrefix(key, 'conn-1 ');
      await limiter.releasePrefix(key, 'nobody ');
      expect(await limiter.acquire(key, 'x', 4, later)).toBe(true);
      expect(await limiter.acquire(key, 'y', 4, later)).toBe(true);
      expect(await limiter.acquire(key, 'z', 4, later)).toBe(false); // conn-10 and conn-2 are still held
    });

    it('frees a member once its expiry passes (a lost release heals itself)', async () => {
      const { clock, limiter, key } = setup();
      await limiter.acquire(key, 'a', 1, clock.now() + 1_000);
      expect(await limiter.acquire(key, 'b', 1, clock.now() + 1_000)).toBe(false);
      clock.nowMs += 1_000;
      expect(await limiter.acquire(key, 'b', 1, clock.now() + 1_000)).toBe(true);
    });

    it('extends a member acquired again with a later expiry, and never shortens it', async () => {
      const { clock, limiter, key } = setup();
      await limiter.acquire(key, 'a', 1, clock.now() + 1_000);
      await limiter.acquire(key, 'a', 1, clock.now() + 5_000);
      await limiter.acquire(key, 'a', 1, clock.now() + 2_000);
      clock.nowMs += 4_000;
      expect(await limiter.acquire(key, 'b', 1, clock.now() + 1_000)).toBe(false);
      clock.nowMs += 1_000;
      expect(await limiter.acquire(key, 'b', 1, clock.now() + 1_000)).toBe(true);
    });

    it('keeps keys independent', async () => {
      const { limiter, key, later } = setup();
      await limiter.acquire(key, 'a', 1, later);
      expect(await limiter.acquire(uniqueId('slots'), 'a', 1, later)).toBe(true);
      expect(await limiter.acquire(key, 'b', 1, later)).toBe(false);
    });

    it('never holds more than `limit` among concurrent acquires', async () => {
      const { limiter, key, later } = setup();
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => limiter.acquire(key, `m${i}`, 7, later)));
      expect(results.filter(Boolean)).toHaveLength(7);
    });

    it('rejects a nonsense limit', async () => {
      const { limiter, key, later } = setup();
      await expect(limiter.acquire(key, 'a', 0, later)).rejects.toBeInstanceOf(RangeError);
      await expect(limiter.acquire(key, 'a', 1.5, later)).rejects.toBeInstanceOf(RangeError);
    });
  });
}
