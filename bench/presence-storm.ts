/**
 * The presence storm of `npm run bench`: `users` members of one document, each sending
 * `ratePerSecond` cursor updates a second for `durationMs`, on the local runtime with presence on
 * a real Redis (a `redis-server` of its own on a free port, given to the handlers as REDIS_URL).
 *
 * Redis comes from test/support/redis.ts, imported as it is: it is plain Node (no test framework),
 * and one copy of "start a throwaway redis-server and stop it" is better than two.
 *
 * Steps: grant every user a role with `publishDocumentPermission` and wait for the events queue
 * to drain; connect the users in a child process (bench/storm-clients.ts), subscribe each to
 * `presence.{D}` and wait for every snapshot; read Redis' INFO; storm; wait until every
 * `presence` invocation has finished and nothing more arrives; read INFO again.
 */
import { performance } from 'node:perf_hooks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Redis } from 'ioredis';
import { loadConfig } from '../functions/config.ts';
import type { MetricName } from '../functions/domain/ports.ts';
import { createPublisher } from '../functions/publisher/publisher.ts';
import { resetDependencies } from '../functions/wiring/common.ts';
import { mintDevToken } from '../local/dev-token.ts';
import type { LambdaHandler } from '../local/lambda-context.ts';
import { DEFAULT_HANDLER_MODULES, startLocalRuntime, type LocalRuntime } from '../local/runtime.ts';
import { startRedis, type LocalRedis } from '../test/support/redis.ts';
import { ClientsProcess } from './child.ts';
import type { FromStormClients, StormReport, ToStormClients } from './protocol.ts';

export interface StormOptions {
  /** Names the run in the tables. */
  label: string;
  users: number;
  ratePerSecond: number;
  durationMs: number;
  progress: (line: string) => void;
}

export interface RedisCommandStat {
  command: string;
  calls: number;
  usec: number;
}

export interface StormResult {
  options: Omit<StormOptions, 'progress'>;
  documentId: string;
  redisVersion: string;
  /** PRESENCE_UPDATES_PER_SECOND the handlers ran with. */
  limitPerSecond: number;
  grantMs: number;
  joinMs: number;
  report: StormReport;
  /** `presence` invocations that finished (ok or failed, e.g. timed out) after the storm began. */
  invocations: { ok: number; failed: number };
  /** Domain metrics counted during the storm (PresenceUpdates, PresenceRateLimited...). */
  metrics: Partial<Record<MetricName, number>>;
  /** Management API calls during the storm. */
  posts: number;
  delivered: number;
  /** DynamoDB calls of the handlers during the storm, by command, and those that failed (after the SDK's retries). */
  dynamodb: Record<string, number>;
  dynamodbFailed: Record<string, number>;
  /** The AWS SDK's console warnings during the storm (the HTTP handler's), by their first words. */
  sdkWarnings: Record<string, number>;
  /** Redis commands during the storm (INFO commandstats, INFO itself left out), most calls first:
   * the commands the handlers sent and the ones their Lua scripts ran. */
  redis: RedisCommandStat[];
  /** The commands the handlers' ioredis client sent (what goes over the network), by name, and
   * those that failed on the client's side (e.g. "Command timed out" after 1 s), by error. */
  sentCommands: Record<string, number>;
  failedCommands: Record<string, number>;
  /** INFO stats total_commands_processed, after − before (INFO itself left out). */
  redisTotalProcessed: number;
  /** used_cpu_user + used_cpu_sys of redis-server during the storm (s). */
  redisCpuSec: number;
  /** From the storm's start until every handler execution had finished and nothing had arrived
   * for 1 s, and this process's CPU (runtime, handlers, dynalite) over that time. */
  wallMs: number;
  cpuMs: number;
  eventLoopBusy: number;
  /** Resident set of this process when the storm began, and the largest while it ran (MiB). */
  startRssMiB: number;
  peakRssMiB: number;
}

/** The storm, and a reference run at a rate this one process can keep up with. */
export const STORM = { users: 50, ratePerSecond: 10, referenceRatePerSecond: 0.5, durationMs: 10_000, quickDurationMs: 2_000 } as const;

const SETTLE_TIMEOUT_MS = 600_000;

type Answer<K extends FromStormClients['type']> = Extract<FromStormClients, { type: K }>;
const answer =
  <K extends FromStormClients['type']>(type: K) =>
  (m: FromStormClients): m is Answer<K> =>
    m.type === type;

export async function runPresenceStorm(options: StormOptions): Promise<StormResult> {
  const { progress } = options;
  // The handlers build their clients once per process: the fan-out benchmark's runtime (another
  // port, no Redis) must be forgotten.
  resetDependencies();
  let redis: LocalRedis | undefined;
  let runtime: LocalRuntime | undefined;
  let events: EventBridgeClient | undefined;
  let admin: Redis | undefined;
  let clients: ClientsProcess<ToStormClients, FromStormClients> | undefined;
  let restoreMetrics = (): void => undefined;
  let restoreWarn = (): void => undefined;
  let restoreSend = (): void => undefined;
  try {
    redis = await startRedis();
    admin = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    await admin.connect();
    const env: Record<string, string> = { REDIS_URL: redis.url };
    if (!process.env['POWERTOOLS_LOG_LEVEL']) env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';
    if (!process.env['POWERTOOLS_METRICS_DISABLED']) env['POWERTOOLS_METRICS_DISABLED'] = 'true';
    // The real message handler, wrapped to count the executions still running: a `presence`
    // invocation past its 10 s timeout has failed for the gateway, but (unlike on Lambda, which
    // would freeze it) its handler goes on posting in this process.
    let handlerRunning = 0;
    let messageHandler: LambdaHandler | undefined;
    const message: LambdaHandler = async (event, context) => {
      handlerRunning++;
      try {
        // Imported on first use: the runtime has set the handlers' environment by then.
        messageHandler ??= ((await import(new URL(`../${DEFAULT_HANDLER_MODULES.message}`, import.meta.url).href)) as { handler: LambdaHandler }).handler;
        return await messageHandler(event, context);
      } finally {
        handlerRunning--;
      }
    };
    runtime = await startLocalRuntime({ port: 0, log: 'silent', env, handlers: { message } });
    const rt = runtime;
    // Connect the handlers' Redis client now, not under the first joins.
    const health = await rt.health();
    if (health.status !== 'healthy') throw new Error(`runtime not healthy: ${JSON.stringify(health)}`);
    const limitPerSecond = loadConfig(process.env).presence.updatesPerSecond;
    progress(`${options.label}: runtime on ${rt.url}, presence on ${redis.url}`);

    // What the handlers count and call, seen from here: their modules are loaded by now, and
    // the wiring builds each client once, so the bench and the handlers share them.
    const { metricsPort } = await import('../functions/adapters/powertools.ts');
    const { table } = await import('../functions/wiring/stores.ts');
    const metrics: Partial<Record<MetricName, number>> = {};
    let counting = false;
    const count = metricsPort.count;
    restoreMetrics = () => (metricsPort.count = count);
    metricsPort.count = (name, value = 1) => {
      if (counting) metrics[name] = (metrics[name] ?? 0) + value;
      count(name, value);
    };
    const dynamodb: Record<string, number> = {};
    const dynamodbFailed: Record<string, number> = {};
    table().client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = (context.commandName ?? '?').replace(/Command$/, '');
        if (counting) dynamodb[command] = (dynamodb[command] ?? 0) + 1;
        try {
          return await next(args);
        } catch (error) {
          if (counting) dynamodbFailed[command] = (dynamodbFailed[command] ?? 0) + 1;
          throw error;
        }
      },
      { step: 'initialize', name: 'benchCount' },
    );
    // What the handlers' ioredis client sends (Redis' own counts include the scripts' commands).
    const sentCommands: Record<string, number> = {};
    const failedCommands: Record<string, number> = {};
    const sendCommand = Redis.prototype.sendCommand;
    restoreSend = () => (Redis.prototype.sendCommand = sendCommand);
    Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
      const result = sendCommand.apply(this, args);
      if (counting && this !== admin) {
        const name = args[0].name;
        sentCommands[name] = (sentCommands[name] ?? 0) + 1;
        // NOSCRIPT is ioredis' cue to send the script with EVAL (once per connection), not a failure.
        Promise.resolve(result).catch((error: unknown) => {
          const message = error instanceof Error ? error.message.split(/[.\n]/)[0]! : String(error);
          if (!message.startsWith('NOSCRIPT')) failedCommands[`${name}: ${message}`] = (failedCommands[`${name}: ${message}`] ?? 0) + 1;
        });
      }
      return result;
    };
    // The SDK's HTTP handler warns on the console when requests queue up; count, do not print.
    const sdkWarnings: Record<string, number> = {};
    const warn = console.warn;
    restoreWarn = () => (console.warn = warn);
    console.warn = (...args: unknown[]) => {
      const text = String(args[0]);
      if (!counting || !text.startsWith('@smithy/')) return warn(...args);
      const key = text.replace(/^@smithy\/node-http-handler\s*[-:]\s*/, '').replace(/\d[\d,]*/g, 'N').split(/[.\n]/)[0]!.trim();
      sdkWarnings[key] = (sdkWarnings[key] ?? 0) + 1;
    };

    // Roles first: one document.permission event per user, applied by the fan-out.
    const documentId = `storm-${Date.now().toString(36)}`;
    const users = Array.from({ length: options.users }, (_, i) => `storm-user-${String(i + 1).padStart(2, '0')}`);
    events = new EventBridgeClient({ endpoint: rt.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const publisher = createPublisher({ client: events, eventBusName: 'realtime' });
    const grantStart = Date.now();
    await Promise.all(users.map((userId) => publisher.publishDocumentPermission({ documentId, userId, role: 'editor' })));
    await rt.queues.events.drained();
    const grantMs = Date.now() - grantStart;
    if (rt.queues.dlq.visible > 0) throw new Error(`${String(rt.queues.dlq.visible)} permission event(s) in the dead-letter queue`);

    clients = new ClientsProcess<ToStormClients, FromStormClients>(new URL('./storm-clients.ts', import.meta.url));
    const tokens = await Promise.all(users.map(async (userId) => ({ userId, token: await mintDevToken({ userId, ttlSec: 3600 }) })));
    const joined = await clients.request({ type: 'join', url: rt.wsUrl, documentId, users: tokens }, answer('joined'), 60_000, `${String(users.length)} presence snapshots`);
    if (joined.clients !== users.length || rt.gateway.connectionCount !== users.length) {
      throw new Error(`expected ${String(users.length)} members, the client process has ${String(joined.clients)} and the gateway ${String(rt.gateway.connectionCount)}`);
    }
    progress(`${String(users.length)} users granted in ${String(grantMs)} ms, joined in ${String(joined.ms)} ms`);
    // Let the user-joined broadcasts of the last joins finish before counting.
    await idle(() => rt.management.stats.posts, 300, 10_000);

    // Before.
    const before = await redisInfo(admin);
    rt.management.resetStats();
    const invocations = { ok: 0, failed: 0 };
    const onMessage = (e: { routeKey: string; ok: boolean }): void => {
      if (e.routeKey !== 'presence') return;
      if (e.ok) invocations.ok++;
      else invocations.failed++;
    };
    rt.gateway.on('message', onMessage);
    counting = true;
    const startRss = process.memoryUsage.rss();
    let peakRss = startRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 250);
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const t0 = Date.now();

    progress(`${options.label}: ${String(users.length)} users × ${String(options.ratePerSecond)} updates/s for ${String(options.durationMs / 1000)} s`);
    const ticker = setInterval(() => {
      const handled = invocations.ok + invocations.failed;
      progress(
        `  +${((Date.now() - t0) / 1000).toFixed(0)} s: ${fmtInt(handled)} presence invocations finished (${fmtInt(invocations.failed)} failed), ` +
          `${fmtInt(handlerRunning)} handler executions running, ${fmtInt(rt.management.stats.delivered)} posts delivered`,
      );
    }, 5_000);
    let sent: Answer<'sent'>;
    let report: StormReport;
    try {
      sent = await clients.request({ type: 'storm', durationMs: options.durationMs, ratePerSecond: options.ratePerSecond }, answer('sent'), options.durationMs + 30_000, 'the storm to be sent');
      progress(`sent ${fmtInt(sent.sent)} updates in ${String(sent.ms)} ms (senders at most ${sent.maxSlipMs.toFixed(1)} ms behind schedule); waiting for the runtime to catch up`);
      // Every invocation finished (a timed-out one may still be posting: then wait for the posts to stop too).
      await until(
        () => invocations.ok + invocations.failed >= sent.sent && handlerRunning === 0,
        SETTLE_TIMEOUT_MS,
        () => `${String(invocations.ok + invocations.failed)} of ${String(sent.sent)} presence invocations finished, ${String(handlerRunning)} handler executions still running`,
      );
      report = (await clients.request({ type: 'report', quietMs: 1_000, maxWaitMs: 60_000 }, answer('report'), 90_000, 'the storm report')) as StormReport;
    } finally {
      clearInterval(ticker);
      clearInterval(sampler);
      counting = false;
      rt.gateway.off('message', onMessage);
    }
    const cpu = process.cpuUsage(cpu0);
    const eventLoopBusy = performance.eventLoopUtilization(elu0).utilization;
    const wallMs = Date.now() - t0;
    const after = await redisInfo(admin);

    const commands = [...after.commands.entries()]
      .filter(([command]) => command !== 'info')
      .map(([command, a]) => {
        const b = before.commands.get(command) ?? { calls: 0, usec: 0 };
        return { command, calls: a.calls - b.calls, usec: a.usec - b.usec };
      })
      .filter((c) => c.calls > 0)
      .sort((a, b) => b.calls - a.calls || a.command.localeCompare(b.command));
    const infoCalls = (after.commands.get('info')?.calls ?? 0) - (before.commands.get('info')?.calls ?? 0);

    return {
      options: { label: options.label, users: options.users, ratePerSecond: options.ratePerSecond, durationMs: options.durationMs },
      documentId,
      redisVersion: after.version,
      limitPerSecond,
      grantMs,
      joinMs: joined.ms,
      report,
      invocations,
      metrics,
      posts: rt.management.stats.posts,
      delivered: rt.management.stats.delivered,
      dynamodb,
      dynamodbFailed,
      sdkWarnings,
      redis: commands,
      sentCommands,
      failedCommands,
      redisTotalProcessed: after.totalProcessed - before.totalProcessed - infoCalls,
      redisCpuSec: after.cpuSec - before.cpuSec,
      wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      eventLoopBusy,
      startRssMiB: startRss / 2 ** 20,
      peakRssMiB: peakRss / 2 ** 20,
    };
  } finally {
    restoreMetrics();
    restoreWarn();
    restoreSend();
    await clients?.exit().catch(() => clients?.kill());
    events?.destroy();
    if (runtime) await runtime.close();
    admin?.disconnect();
    // The handlers' Redis client would keep reconnecting to the server stopped below.
    resetDependencies();
    await redis?.stop();
  }
}

interface RedisInfo {
  version: string;
  totalProcessed: number;
  cpuSec: number;
  commands: Map<string, { calls: number; usec: number }>;
}

async function redisInfo(client: Redis): Promise<RedisInfo> {
  const text = String(await client.call('INFO', 'server', 'stats', 'cpu', 'commandstats'));
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1));
  }
  const commands = new Map<string, { calls: number; usec: number }>();
  for (const [key, value] of fields) {
    if (!key.startsWith('cmdstat_')) continue;
    const stat = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]));
    commands.set(key.slice('cmdstat_'.length), { calls: Number(stat['calls'] ?? 0), usec: Number(stat['usec'] ?? 0) });
  }
  return {
    version: fields.get('redis_version') ?? '?',
    totalProcessed: Number(fields.get('total_commands_processed') ?? 0),
    cpuSec: Number(fields.get('used_cpu_user') ?? 0) + Number(fields.get('used_cpu_sys') ?? 0),
    commands,
  };
}

async function until(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once `value()` has not changed for `quietMs`. */
async function idle(value: () => number, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = value();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`still changing after ${String(timeoutMs)} ms`);
    await new Promise((r) => setTimeout(r, 50));
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// Reporting (one column or row per run: the reference first, then the storm)

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
const ms = (n: number): string => (Number.isFinite(n) ? `${fmt(n, n < 10 ? 1 : 0)} ms` : 'n/a');
const pct = (part: number, whole: number): string => (whole ? `${fmt((100 * part) / whole, part === whole ? 0 : 1)} %` : 'n/a');

function table(rows: string[][]): string {
  const [head, ...body] = rows;
  return [head!, head!.map(() => '---'), ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const others = (r: StormResult): number => r.report.senders - 1;
const redisCalls = (r: StormResult): number => r.redis.reduce((a, c) => a + c.calls, 0);
const sentCalls = (r: StormResult): number => Object.values(r.sentCommands).reduce((a, b) => a + b, 0);
const perUpdate = (r: StormResult, n: number, digits = 2): string => (r.report.sent ? fmt(n / r.report.sent, digits) : 'n/a');
const label = (r: StormResult): string => `${r.options.label}: ${String(r.options.ratePerSecond)}/s each`;

export function stormSettingLines(runs: StormResult[]): string[] {
  const r = runs[0]!;
  return [
    `- ${String(r.options.users)} users in one document, one connection each, all subscribed to its \`presence.{id}\` channel; ` +
      `each sends \`{"action":"presence","documentId":D,"cursor":{x,y}}\` for ${fmt(r.options.durationMs / 1000)} s, senders staggered evenly; ` +
      `runs: ${runs.map((x) => `${x.options.label} ${String(x.options.ratePerSecond)} updates/s per user`).join(', ')}; ` +
      `limit ${String(r.limitPerSecond)} updates/s per connection (PRESENCE_UPDATES_PER_SECOND)`,
    `- each run on a fresh local runtime (one process, every handler, dynalite, management API with no added latency) with presence on Redis ${r.redisVersion} ` +
      '(a redis-server of its own on a free port of 127.0.0.1, no persistence, given to the handlers as REDIS_URL)',
    '- the 50 clients live in a child process; latency is send → receipt on that process\'s clock; a delivery is one `presence:update` received by one other member',
  ];
}

export function stormTable(runs: StormResult[]): string {
  return table([
    [
      'run',
      'updates sent',
      `deliveries (expected: sent × ${String(others(runs[0]!))})`,
      `updates that reached all ${String(others(runs[0]!))}`,
      'deliveries per second (offered)',
      'latency p50 / p99 / max',
      'dropped by the rate limiter',
      'Redis commands per update: executed (sent)',
      'first send → last receipt',
    ],
    ...runs.map((r) => {
      const { report } = r;
      const expected = report.sent * others(r);
      return [
        label(r),
        fmt(report.sent),
        `${fmt(report.deliveries)} of ${fmt(expected)} (${pct(report.deliveries, expected)})`,
        `${fmt(report.relayedToAll)} (${pct(report.relayedToAll, report.sent)})`,
        `${fmt(report.lastReceiptMs > 0 ? (report.deliveries * 1000) / report.lastReceiptMs : Number.NaN)} (${fmt(r.options.users * r.options.ratePerSecond * others(r))})`,
        `${ms(report.latency.p50)} / ${ms(report.latency.p99)} / ${ms(report.latency.max)}`,
        fmt(r.metrics.PresenceRateLimited ?? 0),
        `${perUpdate(r, redisCalls(r), 1)} (${perUpdate(r, sentCalls(r), 1)})`,
        ms(report.lastReceiptMs),
      ];
    }),
  ]);
}

export function stormCostTable(runs: StormResult[]): string {
  const row = (name: string, cell: (r: StormResult) => string): string[] => [name, ...runs.map(cell)];
  const dynamoCommands = [...new Set(runs.flatMap((r) => Object.keys(r.dynamodb)))].sort();
  const warnings = [...new Set(runs.flatMap((r) => Object.keys(r.sdkWarnings)))].sort();
  const metric = (r: StormResult, name: MetricName): number => r.metrics[name] ?? 0;
  return table([
    ['per update sent', ...runs.map(label)],
    row('Redis commands (INFO commandstats, scripts\' commands included)', (r) => `${perUpdate(r, redisCalls(r))} (${fmt(redisCalls(r))})`),
    row('Redis commands (INFO stats total_commands_processed)', (r) => `${perUpdate(r, r.redisTotalProcessed)} (${fmt(r.redisTotalProcessed)})`),
    row('Redis commands sent by the handlers\' client', (r) =>
      `${perUpdate(r, sentCalls(r))}: ${Object.entries(r.sentCommands).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${perUpdate(r, n)}`).join(', ')}`,
    ),
    ...[...new Set(runs.flatMap((r) => Object.keys(r.failedCommands)))].sort().map((k) => row(`Redis commands failed, ${k}`, (r) => fmt(r.failedCommands[k] ?? 0))),
    row('Redis time inside commands (commandstats usec)', (r) => `${perUpdate(r, r.redis.reduce((a, c) => a + c.usec, 0), 1)} µs`),
    ...dynamoCommands.map((c) =>
      row(`DynamoDB ${c}`, (r) => `${perUpdate(r, r.dynamodb[c] ?? 0)} (${fmt(r.dynamodb[c] ?? 0)}${r.dynamodbFailed[c] ? `, ${fmt(r.dynamodbFailed[c] ?? 0)} failed` : ''})`),
    ),
    row('management API posts received', (r) => `${perUpdate(r, r.posts)} (${fmt(r.posts)})`),
    row('post retries / posts given up (Delivery)', (r) => `${fmt(metric(r, 'DeliveryRetries'))} / ${fmt(metric(r, 'DeliveryFailures'))}`),
    row('presence invocations failed (10 s timeout) / ok', (r) => `${fmt(r.invocations.failed)} / ${fmt(r.invocations.ok)}`),
    row('bench process CPU (runtime + handlers)', (r) => `${perUpdate(r, r.cpuMs, 1)} ms (${fmt(r.cpuMs / 1000, 1)} s in ${fmt(r.wallMs / 1000, 1)} s, event loop ${fmt(100 * r.eventLoopBusy)} % busy)`),
    row('redis-server CPU', (r) => `${perUpdate(r, r.redisCpuSec * 1000, 3)} ms (${fmt(r.redisCpuSec, 2)} s)`),
    row('bench process RSS, at the first send → at most', (r) => `${fmt(r.startRssMiB)} → ${fmt(r.peakRssMiB)} MiB`),
    ...warnings.map((w) => row(`SDK warning "${w}"`, (r) => fmt(r.sdkWarnings[w] ?? 0))),
  ]);
}

export function redisCommandsTable(runs: StormResult[]): string {
  const commands = [...new Set(runs.flatMap((r) => r.redis.map((c) => c.command)))];
  const last = runs[runs.length - 1]!;
  const calls = (r: StormResult, command: string) => r.redis.find((c) => c.command === command) ?? { command, calls: 0, usec: 0 };
  commands.sort((a, b) => calls(last, b).calls - calls(last, a).calls || a.localeCompare(b));
  return table([
    ['Redis command', ...runs.map((r) => `per update, ${label(r)}`), `µs per call, ${label(last)}`],
    ...commands.map((command) => [
      command,
      ...runs.map((r) => `${perUpdate(r, calls(r, command).calls)} (${fmt(calls(r, command).calls)})`),
      fmt(calls(last, command).calls ? calls(last, command).usec / calls(last, command).calls : Number.NaN, 1),
    ]),
  ]);
}

/** One row per second while updates are sent, then the drain in 10-second steps. */
export function stormTimelineTable(r: StormResult): string {
  const { report } = r;
  const receipts = report.deliveriesByReceiptSecond;
  const bySend = new Map(report.latencyBySendSecond.map((s) => [s.second, s]));
  const sending = Math.max(0, ...report.latencyBySendSecond.map((s) => s.second + 1));
  const rows: string[][] = [];
  const received = (from: number, to: number): number => receipts.slice(from, to).reduce((a, b) => a + b, 0);
  for (let s = 0; s < sending; s++) {
    const l = bySend.get(s);
    rows.push([
      `${String(s)}–${String(s + 1)} s`,
      fmt(l?.sent ?? 0),
      l && l.deliveries ? `${fmt(l.deliveries)} (${pct(l.deliveries, l.sent * others(r))}): ${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.max)}` : '0',
      fmt(receipts[s] ?? 0),
    ]);
  }
  for (let s = sending; s < receipts.length; s += 10) {
    const to = Math.min(receipts.length, s + 10);
    rows.push([`${String(s)}–${String(to)} s`, '', '', fmt(received(s, to))]);
  }
  return table([['second of the run', 'updates sent', 'their deliveries: latency p50 / p99 / max', 'deliveries received in it'], ...rows]);
}

export function stormOtherLines(runs: StormResult[]): string[] {
  return runs.map((r) => {
    const { report } = r;
    const errors = Object.entries(report.errors).map(([k, v]) => `${k} ${fmt(v)}`);
    return (
      `- ${label(r)}: ${String(r.options.users)} roles granted (PutEvents → events queue drained) in ${fmt(r.grantMs)} ms, ` +
      `${String(r.options.users)} clients joined (every snapshot received) in ${fmt(r.joinMs)} ms; ` +
      `updates that reached at least one member ${fmt(report.relayed)}, duplicates ${fmt(report.duplicates)}, echoes to the sender ${fmt(report.echoes)}, unmatched ${fmt(report.unmatched)}; ` +
      `errors received by the senders: ${errors.length ? errors.join(', ') : 'none'}; ` +
      `last update sent at +${ms(report.lastSentMs)} (senders at most ${ms(report.maxSlipMs)} behind schedule), last received at +${ms(report.lastReceiptMs)}; ` +
      `the handlers' metrics: ${Object.entries(r.metrics).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') || 'none'}`
    );
  });
}

/** The storm's part of the printed output and of docs/benchmarks.md. */
export function stormMarkdown(runs: StormResult[]): string {
  const storm = runs[runs.length - 1]!;
  return [
    'Settings:',
    '',
    ...stormSettingLines(runs),
    '',
    stormTable(runs),
    '',
    'Cost of one update (counted from the first send until every handler execution has finished):',
    '',
    stormCostTable(runs),
    '',
    'Redis commands (INFO commandstats after − before, INFO itself left out; the commands the Lua scripts run are counted too):',
    '',
    redisCommandsTable(runs),
    '',
    `${label(storm)}, second by second (latency by the second an update was sent; deliveries by the second they arrived):`,
    '',
    stormTimelineTable(storm),
    '',
    ...stormOtherLines(runs),
  ].join('\n');
}
