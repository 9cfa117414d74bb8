/**
 * The RateLimiter contract: every engine must pass it (see rate-limiter.test.ts). Time is a
 * FakeClock; keys are unique per test, so engines may share one Redis.
 */
import { describe, expect, it } from 'vitest';
import type { Clock, RateLimiter } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type RateLimiterFactory = (options: { clock: Clock }) => RateLimiter;

export function describeRateLimiterContract(name: string, factory: RateLimiterFactory): void {
  function setup() {
    const clock = new FakeClock();
    const limiter = factory({ clock });
    const advance = (ms: number): void => {
      clock.nowMs += ms;
    };
    return { clock, limiter, advance, key: uniqueId('rl') };
  }

  describe(`RateLimiter (${name})`, () => {
    it('allows a burst of `capacity` takes, then refuses with retryAfterMs', async () => {
      const { limiter, key } = setup();
      for (let i = 0; i < 3; i++) expect(await limiter.take(key, 3, 1)).toStrictEqual({ allowed: true });
      expect(await limiter.take(key, 3, 1)).toStrictEqual({ allowed: false, retryAfterMs: 1_000 });
      expect(await limiter.take(key, 3, 1)).toStrictEqual({ allowed: false, retryAfterMs: 1_000 });
    });

    it('refills continuously: retryAfterMs shrinks as time passes', async () => {
      const { limiter, key, advance } = setup();
      await limiter.take(key, 1, 2); // 2 tokens a second: one every 500 ms
      advance(200);
      expect(await limiter.take(key, 1, 2)).toStrictEqual({ allowed: false, retryAfterMs: 300 });
      advance(299);
      expect(await limiter.take(key, 1, 2)).toStrictEqual({ allowed: false, retryAfterMs: 1 });
      advance(1);
      expect(await limiter.take(key, 1, 2)).toStrictEqual({ allowed: true });
      expect(await limiter.take(key, 1, 2)).toStrictEqual({ allowed: false, retryAfterMs: 500 });
    });

    it('refills over time but never beyond capacity', async () => {
      const { limiter, key, advance } = setup();
      for (let i = 0; i < 5; i++) await limiter.take(key, 5, 10);
      expect((await limiter.take(key, 5, 10)).allowed).toBe(false);
      advance(250); // 2.5 tokens
      expect((await limiter.take(key, 5, 10)).allowed).toBe(true);
      expect((await limiter.take(key, 5, 10)).allowed).toBe(true);
      expect(await limiter.take(key, 5, 10)).toStrictEqual({ allowed: false, retryAfterMs: 50 });
      advance(3_600_000);
      let allowed = 0;
      for (let i = 0; i < 10; i++) if ((await limiter.take(key, 5, 10)).allowed) allowed++;
      expect(allowed).toBe(5);
    });

    it('handles slow refill rates (below one token a second)', async () => {
      const { limiter, key, advance } = setup();
      expect((await limiter.take(key, 1, 0.5)).allowed).toBe(true);
      expect(await limiter.take(key, 1, 0.5)).toStrictEqual({ allowed: false, retryAfterMs: 2_000 });
      advance(1_500);
      expect(await limiter.take(key, 1, 0.5)).toStrictEqual({ allowed: false, retryAfterMs: 500 });
      advance(500);
      expect((await limiter.take(key, 1, 0.5)).allowed).toBe(true);
    });

    it('keeps keys independent', async () => {
      const { limiter, key } = setup();
      const other = uniqueId('rl');
      await limiter.take(key, 1, 1);
      expect((await limiter.take(key, 1, 1)).allowed).toBe(false);
      expect((await limiter.take(other, 1, 1)).allowed).toBe(true);
      expect((await limiter.take(other, 1, 1)).allowed).toBe(false);
    });

    it('does not refill when the clock goes backwards', async () => {
      const { limiter, key, advance } = setup();
      await limiter.take(key, 1, 1);
      advance(-10_000);
      expect((await limiter.take(key, 1, 1)).allowed).toBe(false);
      advance(10_000);
      expect((await limiter.take(key, 1, 1)).allowed).toBe(false);
      advance(1_000);
      expect((await limiter.take(key, 1, 1)).allowed).toBe(true);
    });

    it('never allows more than capacity among concurrent takes', async () => {
      const { limiter, key } = setup();
      const results = await Promise.all(Array.from({ length: 25 }, () => limiter.take(key, 7, 1)));
      expect(results.filter((r) => r.allowed)).toHaveLength(7);
      expect(results.filter((r) => !r.allowed).every((r) => r.retryAfterMs === 1_000)).toBe(true);
    });

    it('rejects nonsense limits', async () => {
      const { limiter, key } = setup();
      await expect(limiter.take(key, 0, 1)).rejects.toBeInstanceOf(RangeError);
      await expect(limiter.take(key, 1, 0)).rejects.toBeInstanceOf(RangeError);
      await expect(limiter.take(key, 1, Number.NaN)).rejects.toBeInstanceOf(RangeError);
    });
  });
}
