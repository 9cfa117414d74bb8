/**
 * The security part of `npm run bench` (`--only security`), quick (a few seconds):
 *
 *   1. Fuzz frames a second through the message route: the fuzz tests' arbitrary frames (random
 *      JSON, wrong types, huge strings, deep nesting, broken UTF-8; a fixed seed, so every run
 *      replays the same frames) handled one after the other by the router on memory engines,
 *      the abuse limits included. The cost of validating and refusing bad input, not of I/O.
 *   2. The cost of one rate-limit check (a token-bucket take, what every inbound message pays)
 *      and of one slot acquire (what `$connect` and `subscribe` pay), median and p99, on the
 *      memory engine and on a real redis-server on this machine (loopback: a floor for
 *      ElastiCache, where a round trip in the same AZ adds a few hundred microseconds).
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { MemoryRateLimiter } from '../functions/adapters/memory/rate-limiter.ts';
import { MemorySlotLimiter } from '../functions/adapters/memory/slot-limiter.ts';
import { createRedisClient } from '../functions/adapters/redis/client.ts';
import { RedisRateLimiter } from '../functions/adapters/redis/rate-limiter.ts';
import { RedisSlotLimiter } from '../functions/adapters/redis/slot-limiter.ts';
import type { RateLimiter, SlotLimiter } from '../functions/domain/ports.ts';
import { arbitraryFrame, fuzzRouter } from '../test/support/fuzz.ts';
import { startRedis } from '../test/support/redis.ts';

export interface SecurityResult {
  fuzz: { frames: number; seconds: number; perSecond: number; bytes: number };
  checks: { name: string; engine: 'memory' | 'Redis'; calls: number; medianUs: number; p99Us: number }[];
}

const FUZZ_FRAMES = 5_000;
const FUZZ_SEED = 20261127;
const MEMORY_CALLS = 50_000;
const REDIS_CALLS = 5_000;

export async function runSecurityBench(progress: (line: string) => void): Promise<SecurityResult> {
  progress(`security: ${String(FUZZ_FRAMES)} fuzz frames through the message route`);
  const fuzz = await fuzzThroughput();
  const checks: SecurityResult['checks'] = [];
  progress('security: rate-limit checks on the memory engine');
  checks.push(await measure('token bucket take', 'memory', MEMORY_CALLS, takes(new MemoryRateLimiter())));
  checks.push(await measure('slot acquire', 'memory', MEMORY_CALLS, acquires(new MemorySlotLimiter())));
  progress('security: rate-limit checks on a real redis-server');
  const redis = await startRedis();
  const client = createRedisClient(redis.url);
  try {
    checks.push(await measure('token bucket take', 'Redis', REDIS_CALLS, takes(new RedisRateLimiter({ client }))));
    checks.push(await measure('slot acquire', 'Redis', REDIS_CALLS, acquires(new RedisSlotLimiter({ client }))));
  } finally {
    client.disconnect();
    await redis.stop();
  }
  return { fuzz, checks };
}

async function fuzzThroughput(): Promise<SecurityResult['fuzz']> {
  const frames = fc.sample(arbitraryFrame, { numRuns: FUZZ_FRAMES, seed: FUZZ_SEED });
  const { router, ctx } = fuzzRouter();
  for (const frame of frames.slice(0, 200)) await router.handle(ctx, frame); // warm up
  const started = performance.now();
  for (const frame of frames) await router.handle(ctx, frame);
  const seconds = (performance.now() - started) / 1000;
  const bytes = frames.reduce((sum, f) => sum + Buffer.byteLength(f, 'utf8'), 0);
  return { frames: frames.length, seconds, perSecond: frames.length / seconds, bytes };
}

/** Spread over 100 keys (connections), refused or not: both paths cost the same script. */
const takes = (limiter: RateLimiter) => (i: number) => limiter.take(`bench:msg:${String(i % 100)}`, 100, 10);
const acquires = (limiter: SlotLimiter) => (i: number) => limiter.acquire(`bench:conn:${String(i % 100)}`, `c${String(i % 2_000)}`, 20, Date.now() + 7_200_000);

async function measure(name: string, engine: 'memory' | 'Redis', calls: number, call: (i: number) => Promise<unknown>): Promise<SecurityResult['checks'][number]> {
  for (let i = 0; i < Math.min(500, calls); i++) await call(i); // warm up (script load, JIT)
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await call(i);
    samples[i] = performance.now() - t;
  }
  samples.sort();
  const at = (q: number): number => samples[Math.min(calls - 1, Math.floor(q * calls))]! * 1000;
  return { name, engine, calls, medianUs: at(0.5), p99Us: at(0.99) };
}

export function securityMarkdown(result: SecurityResult): string {
  const { fuzz, checks } = result;
  const us = (n: number): string => (n < 10 ? n.toFixed(1) : n.toFixed(0));
  return [
    `Fuzz frames through the message route (in process, memory engines, limits on; ${fuzz.frames.toLocaleString('en-US')} frames, ${(fuzz.bytes / 1024 / 1024).toFixed(1)} MB, seed ${String(FUZZ_SEED)}):`,
    '',
    '| frames | seconds | frames/s |',
    '|---:|---:|---:|',
    `| ${fuzz.frames.toLocaleString('en-US')} | ${fuzz.seconds.toFixed(2)} | ${Math.round(fuzz.perSecond).toLocaleString('en-US')} |`,
    '',
    'Cost of one limit check (sequential calls; Redis is a redis-server on loopback):',
    '',
    '| check | engine | calls | median µs | p99 µs |',
    '|---|---|---:|---:|---:|',
    ...checks.map((c) => `| ${c.name} | ${c.engine} | ${c.calls.toLocaleString('en-US')} | ${us(c.medianUs)} | ${us(c.p99Us)} |`),
  ].join('\n');
}

// `tsx bench/security.ts` runs this part alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  runSecurityBench((line) => process.stderr.write(`[bench] ${line}\n`)).then(
    (result) => {
      console.log(securityMarkdown(result));
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
