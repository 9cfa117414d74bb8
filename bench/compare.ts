/**
 * Side by side with the seed's design (bench/baseline/server.ts): the same client process design,
 * the same job updates (same fields, a `message` of the same length), the same machine, one run.
 *
 * For each server (the Socket.IO baseline first, then the local runtime), in a process of its own:
 * 1. broadcast: `broadcast` clients on one job channel; `broadcastUpdates` updates a run, one
 *    every `broadcastIntervalMs`; latency of every delivery;
 * 2. its clients closed, the server's memory with no connection (after GC);
 * 3. one job channel per client, `sizes[0]` clients, then grown to `sizes[1]`: at each size the
 *    server's memory (after GC), then `updates` updates a run at `ratePerSecond`, each to a
 *    different job, and the latency of each.
 *
 * Publishers: the runtime's through EventBridge PutEvents (createPublisher, the workers' path);
 * the baseline's with PUBLISH to the Redis channel `job-updates`, as the seed's workers do.
 * Latency: from just before the publish call to the client's receipt.
 */
import { performance } from 'node:perf_hooks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Redis } from 'ioredis';
import { createPublisher, type Publisher } from '../functions/publisher/publisher.ts';
import { mintDevToken } from '../local/dev-token.ts';
import { startRedis, type LocalRedis } from '../test/support/redis.ts';
import { JOB_UPDATES_CHANNEL, type JobUpdateEvent } from './baseline/server.ts';
import { ClientsProcess } from './child.ts';
import type { FromCompareClients, FromServer, ServerKind, ToCompareClients, ToServer } from './protocol.ts';
import { fmt, fmt1, median, quantile, spread, table } from './report.ts';

export const COMPARE = {
  sizes: [1000, 5000],
  broadcast: 1000,
  updates: 60,
  ratePerSecond: 25,
  broadcastUpdates: 3,
  broadcastIntervalMs: 1000,
  runs: 3,
  quick: { sizes: [200], broadcast: 200, updates: 20, ratePerSecond: 20, broadcastUpdates: 3, broadcastIntervalMs: 500, runs: 1 },
  window: 100,
  /** Length of every update's `message` (the publish time and run id, padded). */
  messageLength: 120,
  userId: 'bench-user',
} as const;

type Settings = { sizes: readonly number[]; broadcast: number; updates: number; ratePerSecond: number; broadcastUpdates: number; broadcastIntervalMs: number; runs: number };

export interface LatencyRun {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export interface Scenario {
  label: string;
  clients: number;
  /** Deliveries expected per run. */
  expected: number;
  runs: LatencyRun[];
  setupMs: number;
}

export interface Memory {
  connections: number;
  rss: number;
  heapUsed: number;
  external: number;
}

export interface ServerResult {
  kind: ServerKind;
  scenarios: Scenario[];
  memory: Memory[];
  problems: string[];
}

export interface CompareResult {
  settings: Settings;
  servers: ServerResult[];
}

const now = (): number => performance.timeOrigin + performance.now();
/** Updates of each series' warm-up (not counted). */
const WARMUP_UPDATES = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const is =
  <K extends string>(type: K, runId?: string) =>
  <M extends { type: string }>(m: M): m is Extract<M, { type: K }> =>
    m.type === type && (runId === undefined || (m as { runId?: string }).runId === runId);

export async function runCompare(options: { quick: boolean; progress: (line: string) => void }): Promise<CompareResult> {
  const settings: Settings = options.quick ? COMPARE.quick : COMPARE;
  const redis = await startRedis();
  const token = await mintDevToken({ userId: COMPARE.userId, ttlSec: 4 * 3600 });
  const servers: ServerResult[] = [];
  let sequence = 0;
  try {
    for (const kind of ['baseline', 'runtime'] as const) {
      servers.push(await runServer(kind, settings, redis, token, () => ++sequence, options.progress));
    }
  } finally {
    await redis.stop();
  }
  return { settings, servers };
}

async function runServer(
  kind: ServerKind,
  settings: Settings,
  redis: LocalRedis,
  token: string,
  nextSequence: () => number,
  progress: (line: string) => void,
): Promise<ServerResult> {
  const server = new ClientsProcess<ToServer, FromServer>(new URL('./compare-server.ts', import.meta.url), () => false, ['--expose-gc']);
  const clients = new ClientsProcess<ToCompareClients, FromCompareClients>(new URL('./compare-clients.ts', import.meta.url), (m) => {
    if (m.type !== 'progress') return false;
    progress(`${kind}: ${fmt(m.connected)} / ${fmt(m.target)} clients`);
    return true;
  });
  let events: EventBridgeClient | undefined;
  let publisherRedis: Redis | undefined;
  const result: ServerResult = { kind, scenarios: [], memory: [], problems: [] };
  try {
    const started = await server.request({ type: 'start', kind, redisUrl: redis.url }, is('started'), 60_000, `the ${kind} server`);
    let publish: (jobId: string, message: string) => Promise<unknown>;
    if (kind === 'runtime') {
      events = new EventBridgeClient({ endpoint: started.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      const publisher: Publisher = createPublisher({ client: events, eventBusName: 'realtime' });
      publish = (jobId, message) => {
        const sequence = nextSequence();
        return publisher.publishJobUpdate({ jobId, userId: COMPARE.userId, status: 'running', progress: sequence % 100, message, sequence });
      };
    } else {
      publisherRedis = new Redis(redis.url);
      const r = publisherRedis;
      publish = (jobId, message) => {
        const sequence = nextSequence();
        const event: JobUpdateEvent & { sequence: number } = {
          type: 'job.update',
          jobId,
          userId: COMPARE.userId,
          status: 'running',
          progress: sequence % 100,
          message,
          timestamp: new Date().toISOString(),
          sequence,
        };
        return r.publish(JOB_UPDATES_CHANNEL, JSON.stringify(event));
      };
    }
    const memory = async (): Promise<void> => {
      const m = await server.request({ type: 'memory' }, is('memory'), 30_000, `${kind} memory`);
      result.memory.push({ connections: m.connections, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
    };
    const connect = async (jobIds: string[]): Promise<number> => {
      const t0 = Date.now();
      await clients.request({ type: 'connect', kind, url: started.wsUrl, token, jobIds, window: COMPARE.window }, is('connected'), Math.max(120_000, jobIds.length * 100), `${fmt(jobIds.length)} ${kind} clients`);
      return Date.now() - t0;
    };
    /** One run: publishes `targets` (job ids) at `intervalMs`, waits for `expected` receipts. */
    const measure = async (runId: string, targets: string[], intervalMs: number, expected: number): Promise<LatencyRun> => {
      await clients.request({ type: 'expect', runId, n: expected }, is('expecting', runId), 10_000, `expect ${runId}`);
      const complete = clients.request(undefined, is('complete', runId), 120_000, `${fmt(expected)} receipts of ${runId}`);
      complete.catch(() => undefined);
      const t0 = performance.now();
      const publishes: Promise<unknown>[] = [];
      for (let i = 0; i < targets.length; i++) {
        const wait = t0 + i * intervalMs - performance.now();
        if (wait > 0) await sleep(wait);
        const message = `${runId}|${String(i)}|${now().toFixed(3)}|`.padEnd(COMPARE.messageLength, '.');
        publishes.push(publish(targets[i]!, message));
      }
      await Promise.all(publishes);
      let failure: unknown;
      await complete.catch((e: unknown) => (failure = e));
      const got = await clients.request({ type: 'latencies', runId }, is('latencies', runId), 30_000, `latencies of ${runId}`);
      if (failure || got.duplicates > 0) {
        result.problems.push(`${kind} ${runId}: ${fmt(got.latencies.length)} of ${fmt(expected)} delivered, ${String(got.duplicates)} duplicate(s)${failure ? ` (${String(failure)})` : ''}`);
      }
      const sorted = got.latencies.sort((a, b) => a - b);
      return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? NaN, count: sorted.length };
    };
    /** A short warm-up (WARMUP_UPDATES updates), then the runs; `one(runId, updates)` publishes and measures. */
    const series = async (label: string, clientCount: number, setupMs: number, expected: number, one: (runId: string, updates: number) => Promise<LatencyRun>): Promise<void> => {
      await one(`${kind}-${label}-warmup`, WARMUP_UPDATES);
      const runs: LatencyRun[] = [];
      for (let i = 1; i <= settings.runs; i++) {
        const r = await one(`${kind}-${label}-r${String(i)}`, 0);
        runs.push(r);
        progress(`${kind} ${label} run ${String(i)}: p50 ${fmt1(r.p50)} ms, p99 ${fmt1(r.p99)} ms, max ${fmt1(r.max)} ms (${fmt(r.count)} deliveries)`);
      }
      result.scenarios.push({ label, clients: clientCount, expected, runs, setupMs });
    };

    // 1. Broadcast: one channel, many subscribers.
    const bcast = `bcast-${kind}`;
    const bSetup = await connect(Array.from({ length: settings.broadcast }, () => bcast));
    const bExpected = settings.broadcast * settings.broadcastUpdates;
    await series(`one channel, ${fmt(settings.broadcast)} subscribers`, settings.broadcast, bSetup, bExpected, (runId, updates) => {
      const n = updates || settings.broadcastUpdates;
      return measure(runId, Array.from({ length: n }, () => bcast), settings.broadcastIntervalMs, settings.broadcast * n);
    });
    await clients.request({ type: 'close' }, is('closed'), 30_000, 'closing the broadcast clients');
    // Let the server see every close ($disconnect on the runtime), then measure it empty.
    for (let i = 0; i < 300; i++) {
      const m = await server.request({ type: 'memory' }, is('memory'), 30_000, `${kind} memory`);
      if (m.connections === 0) break;
      await sleep(200);
    }
    await sleep(500);
    await memory();

    // 2. One job channel per client, growing.
    let have = 0;
    for (const size of settings.sizes) {
      const jobIds = Array.from({ length: size - have }, (_, i) => `job-${kind}-${String(have + i)}`);
      const setupMs = await connect(jobIds);
      have = size;
      await sleep(500);
      await memory();
      const all = Array.from({ length: size }, (_, i) => `job-${kind}-${String(i)}`);
      await series(`${fmt(size)} clients, one job each`, size, setupMs, settings.updates, (runId, updates) => {
        const n = updates || settings.updates;
        // Distinct jobs, spread over every client.
        const step = Math.max(1, Math.floor(size / n));
        const targets = Array.from({ length: n }, (_, i) => all[(i * step + (runId.length % step)) % size]!);
        return measure(runId, targets, 1000 / settings.ratePerSecond, n);
      });
    }
    return result;
  } finally {
    await clients.exit();
    server.send({ type: 'exit' });
    await server.exit(30_000);
    events?.destroy();
    publisherRedis?.disconnect();
  }
}

export function compareProblems(r: CompareResult): string[] {
  return r.servers.flatMap((s) => s.problems);
}

const NAMES: Record<ServerKind, string> = { runtime: 'local runtime', baseline: 'Socket.IO baseline (seed)' };

export function compareMarkdown(r: CompareResult): string {
  const s = r.settings;
  const latencyRows = r.servers.flatMap((server) =>
    server.scenarios.map((sc) => [
      sc.label,
      NAMES[server.kind],
      spread(sc.runs.map((x) => x.p50)),
      spread(sc.runs.map((x) => x.p99)),
      spread(sc.runs.map((x) => x.max)),
      `${fmt(median(sc.runs.map((x) => x.count)))} / ${fmt(sc.expected)}`,
      `${(sc.setupMs / 1000).toFixed(1)} s`,
    ]),
  );
  latencyRows.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const memRows = r.servers.flatMap((server) => {
    const empty = server.memory[0];
    return server.memory.slice(1).map((m) => {
      const per = (f: (x: Memory) => number): string => (empty && m.connections > 0 ? `${((f(m) - f(empty)) / m.connections / 1024).toFixed(1)} KB` : '–');
      return [NAMES[server.kind], fmt(m.connections), mib(m.rss), mib(m.heapUsed), per((x) => x.rss), per((x) => x.heapUsed + x.external)];
    });
  });
  return [
    table([['workload', 'server', 'p50, ms', 'p99, ms', 'max, ms', 'deliveries per run', 'connect + subscribe'], ...latencyRows]),
    '',
    `Latency from just before the publish call to the client's receipt; median (min–max) over ${String(s.runs)} run(s) after a warm-up. ` +
      `One job each: ${fmt(s.updates)} updates a run at ${fmt(s.ratePerSecond)} a second, each to a different job. ` +
      `One channel: ${String(s.broadcastUpdates)} updates a run, one every ${fmt(s.broadcastIntervalMs)} ms. ` +
      `Every update: status \`running\`, a progress, a sequence and a ${String(COMPARE.messageLength)}-character message.`,
    '',
    'Memory of the server process after garbage collection, idle connections only, against the same process with none (after the one-channel clients left). ' +
      'The runtime\'s heap also holds dynalite\'s in-memory table, whose memtable grows and compacts on its own: its per-connection heap figure is noise at 1,000 connections; read the 5,000 row.',
    '',
    table([['server', 'connections', 'RSS', 'heap used', 'RSS per connection', 'heap + external per connection'], ...memRows]),
  ].join('\n');
}
