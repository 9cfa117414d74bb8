/**
 * Operations per unit of work, counted on the local runtime with presence on a real Redis:
 * connect, subscribe, ping, a job update delivered to one subscriber and to ten, a presence update
 * relayed to one other member, disconnect. Each unit is repeated `repeat` times and the counts
 * divided; the runtime is left to settle (queues drained, no invocation running) around each.
 *
 * Where the counts come from:
 * - DynamoDB: a middleware on the handlers' own DynamoDB client sets `ReturnConsumedCapacity:
 *   TOTAL` on every request and adds up the capacity dynalite reports (it computes it from item
 *   sizes and consistency as DynamoDB does); a failed conditional write still costs a WCU on
 *   DynamoDB but returns no figure here, so it is counted as 1;
 * - Redis: `INFO commandstats` of the redis-server before and after (commands run inside scripts
 *   included, as Redis counts them), and the commands the handlers' ioredis client sent;
 * - the management API, EventBridge, SQS and the event source: the emulations' own counters
 *   (SQS requests = messages sent + one ReceiveMessage and one DeleteMessageBatch per batch, as
 *   the Lambda event source mapping calls them);
 * - Lambda: invocations per function and their local duration;
 * - API Gateway messages: frames the clients sent plus posts that reached a client.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { createPublisher } from '../functions/publisher/publisher.ts';
import { resetDependencies } from '../functions/wiring/common.ts';
import { mintDevToken } from '../local/dev-token.ts';
import { startLocalRuntime, type FunctionKey, type LocalRuntime } from '../local/runtime.ts';
import { startRedis, type LocalRedis } from '../test/support/redis.ts';
import { fmt1, table } from './report.ts';

export const OPS = { repeat: 20, quickRepeat: 5 } as const;

export const UNITS = ['connect', 'subscribe', 'ping', 'job update, 1 subscriber', 'job update, 10 subscribers', 'presence update, 1 other member', 'disconnect'] as const;
export type Unit = (typeof UNITS)[number];

export interface Counts {
  dynamodbRequests: number;
  rcu: number;
  wcu: number;
  dynamodbByCommand: Record<string, number>;
  redisCommands: number;
  redisSent: number;
  managementCalls: number;
  posts: number;
  putEventsEntries: number;
  sqsRequests: number;
  apiGatewayMessages: number;
  invocations: Partial<Record<FunctionKey, number>>;
  lambdaMs: Partial<Record<FunctionKey, number>>;
}

export interface OpsResult {
  repeat: number;
  /** Per one unit of work. */
  units: Record<Unit, Counts>;
}

const empty = (): Counts => ({
  dynamodbRequests: 0,
  rcu: 0,
  wcu: 0,
  dynamodbByCommand: {},
  redisCommands: 0,
  redisSent: 0,
  managementCalls: 0,
  posts: 0,
  putEventsEntries: 0,
  sqsRequests: 0,
  apiGatewayMessages: 0,
  invocations: {},
  lambdaMs: {},
});

const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function redisCalls(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let calls = 0;
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m && m[1] !== 'info') calls += Number(m[2]);
  }
  return calls;
}

export async function runOps(options: { quick: boolean; progress: (line: string) => void }): Promise<OpsResult> {
  const repeat = options.quick ? OPS.quickRepeat : OPS.repeat;
  let redis: LocalRedis | undefined;
  let runtime: LocalRuntime | undefined;
  let admin: Redis | undefined;
  let events: EventBridgeClient | undefined;
  let restoreSend = (): void => undefined;
  const sockets: WebSocket[] = [];
  try {
    redis = await startRedis();
    admin = new Redis(redis.url);
    // A previous section's runtime may have built the handlers' clients for another endpoint.
    resetDependencies();
    runtime = await startLocalRuntime({
      port: 0,
      log: 'silent',
      env: { REDIS_URL: redis.url, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    const rt = runtime;
    let current = empty();

    // Lambda invocations, timed, and whether any is running.
    let running = 0;
    for (const [key, fn] of Object.entries(rt.functions) as [FunctionKey, LocalRuntime['functions'][FunctionKey]][]) {
      const invoke = fn.invoke.bind(fn);
      fn.invoke = async (...args: Parameters<typeof invoke>) => {
        const t0 = performance.now();
        running++;
        try {
          return await invoke(...args);
        } finally {
          running--;
          current.invocations[key] = (current.invocations[key] ?? 0) + 1;
          current.lambdaMs[key] = (current.lambdaMs[key] ?? 0) + performance.now() - t0;
        }
      };
    }
    const health = await rt.health();
    if (health.status !== 'healthy') throw new Error(`runtime not healthy: ${JSON.stringify(health)}`);

    // DynamoDB capacity, from the handlers' own client (built once per process by the wiring).
    const { table: tableOf } = await import('../functions/wiring/stores.ts');
    tableOf().client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = (context.commandName ?? '?').replace(/Command$/, '');
        const input = args.input as { ReturnConsumedCapacity?: string };
        input.ReturnConsumedCapacity = 'TOTAL';
        current.dynamodbRequests++;
        current.dynamodbByCommand[command] = (current.dynamodbByCommand[command] ?? 0) + 1;
        try {
          const out = await next(args);
          const cc = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }).ConsumedCapacity;
          const units = (Array.isArray(cc) ? cc : cc ? [cc] : []).reduce((s, c) => s + (c.CapacityUnits ?? 0), 0);
          if (READS.has(command)) current.rcu += units;
          else current.wcu += units;
          return out;
        } catch (error) {
          if (!READS.has(command)) current.wcu += 1;
          throw error;
        }
      },
      { step: 'initialize', name: 'benchCapacity' },
    );
    const sendCommand = Redis.prototype.sendCommand;
    restoreSend = () => (Redis.prototype.sendCommand = sendCommand);
    const adminClient = admin;
    Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
      if (this !== adminClient) current.redisSent++;
      return sendCommand.apply(this, args);
    };

    const settle = async (): Promise<void> => {
      for (;;) {
        await rt.queues.events.drained();
        await sleep(50);
        if (running === 0 && rt.queues.events.inFlight === 0) {
          await sleep(50);
          if (running === 0) return;
        }
      }
    };
    const snapshot = async () => ({
      redis: await redisCalls(adminClient),
      m: { ...rt.management.stats },
      eb: rt.eventBridge.stats.accepted,
      sent: rt.queues.events.stats.sent + rt.queues.dlq.stats.sent,
      batches: rt.eventSource.stats.batches,
    });
    const units = {} as Record<Unit, Counts>;
    /** Runs `work` (which sends `frames` client messages), settles, and records the counts per repetition. */
    const measureUnit = async (unit: Unit, work: () => Promise<number>): Promise<void> => {
      await settle();
      current = empty();
      const before = await snapshot();
      const frames = await work();
      await settle();
      const after = await snapshot();
      const c = current;
      c.redisCommands = after.redis - before.redis;
      c.posts = after.m.posts - before.m.posts;
      c.managementCalls = c.posts + after.m.gets - before.m.gets + after.m.deletes - before.m.deletes;
      c.putEventsEntries = after.eb - before.eb;
      c.sqsRequests = after.sent - before.sent + 2 * (after.batches - before.batches);
      c.apiGatewayMessages = frames + after.m.delivered - before.m.delivered;
      const per = (n: number): number => n / repeat;
      units[unit] = {
        ...c,
        dynamodbRequests: per(c.dynamodbRequests),
        rcu: per(c.rcu),
        wcu: per(c.wcu),
        dynamodbByCommand: Object.fromEntries(Object.entries(c.dynamodbByCommand).map(([k, v]) => [k, per(v)])),
        redisCommands: per(c.redisCommands),
        redisSent: per(c.redisSent),
        managementCalls: per(c.managementCalls),
        posts: per(c.posts),
        putEventsEntries: per(c.putEventsEntries),
        sqsRequests: per(c.sqsRequests),
        apiGatewayMessages: per(c.apiGatewayMessages),
        invocations: Object.fromEntries(Object.entries(c.invocations).map(([k, v]) => [k, per(v)])),
        lambdaMs: Object.fromEntries(Object.entries(c.lambdaMs).map(([k, v]) => [k, v / Math.max(1, c.invocations[k as FunctionKey] ?? 1)])),
      };
      options.progress(`ops: ${unit}: ${fmt1(units[unit].dynamodbRequests)} DynamoDB requests, ${fmt1(units[unit].redisCommands)} Redis commands, ${fmt1(units[unit].managementCalls)} management calls`);
    };

    const userId = 'ops-user';
    const token = await mintDevToken({ userId, ttlSec: 3600 });
    events = new EventBridgeClient({ endpoint: rt.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const publisher = createPublisher({ client: events, eventBusName: 'realtime' });

    // Every socket's messages go to `inbox` listeners.
    const waiters = new Map<WebSocket, ((m: Record<string, unknown>) => boolean)[]>();
    const open = (t: string): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${rt.wsUrl}/?token=${encodeURIComponent(t)}`, { perMessageDeflate: false });
        waiters.set(ws, []);
        ws.on('message', (data) => {
          const m = JSON.parse(data.toString()) as Record<string, unknown>;
          const list = waiters.get(ws)!;
          const i = list.findIndex((w) => w(m));
          if (i >= 0) list.splice(i, 1);
        });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const next = (ws: WebSocket, accept: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('ops: no answer within 30 s')), 30_000);
        waiters.get(ws)!.push((m) => (accept(m) ? (clearTimeout(timer), resolve(m), true) : false));
      });
    const subscribe = async (ws: WebSocket, channel: string, requestId: string): Promise<void> => {
      const ack = next(ws, (m) => m['requestId'] === requestId);
      ws.send(JSON.stringify({ action: 'subscribe', channel, requestId }));
      const m = await ack;
      if (m['event'] !== 'subscribed') throw new Error(`ops: subscribe ${channel}: ${JSON.stringify(m)}`);
    };
    let sequence = 0;
    const jobUpdate = async (jobId: string, receivers: WebSocket[]): Promise<void> => {
      const seq = ++sequence;
      const message = `ops|${String(seq)}|`.padEnd(120, '.');
      const got = receivers.map((ws) => next(ws, (m) => m['event'] === 'job:update' && (m['data'] as { message?: string } | undefined)?.message === message));
      await publisher.publishJobUpdate({ jobId, userId, status: 'running', progress: seq % 100, message, sequence: seq });
      await Promise.all(got);
    };

    // connect
    await measureUnit('connect', async () => {
      for (let i = 0; i < repeat; i++) sockets.push(await open(token));
      return 0;
    });
    // subscribe
    await measureUnit('subscribe', async () => {
      for (let i = 0; i < repeat; i++) await subscribe(sockets[i]!, `jobs.ops-${String(i)}`, `s${String(i)}`);
      return repeat;
    });
    // ping: the keep-alive every client sends (API Gateway closes a connection idle for 10 minutes).
    await measureUnit('ping', async () => {
      for (let i = 0; i < repeat; i++) {
        const pong = next(sockets[i]!, (m) => m['requestId'] === `p${String(i)}`);
        sockets[i]!.send(JSON.stringify({ action: 'ping', requestId: `p${String(i)}` }));
        await pong;
      }
      return repeat;
    });
    // Each job's first update creates its state; measure the steady state (updates 2..).
    for (let i = 0; i < repeat; i++) await jobUpdate(`ops-${String(i)}`, [sockets[i]!]);
    await measureUnit('job update, 1 subscriber', async () => {
      for (let i = 0; i < repeat; i++) await jobUpdate(`ops-${String(i)}`, [sockets[i]!]);
      return 0;
    });
    // Ten subscribers of one job: ten more sockets, subscribed outside the count.
    const ten: WebSocket[] = [];
    for (let i = 0; i < 10; i++) {
      ten.push(await open(token));
      await subscribe(ten[i]!, 'jobs.ops-ten', `t${String(i)}`);
    }
    sockets.push(...ten);
    await jobUpdate('ops-ten', ten);
    await measureUnit('job update, 10 subscribers', async () => {
      for (let i = 0; i < repeat; i++) await jobUpdate('ops-ten', ten);
      return 0;
    });
    // Presence: two users with a role on one document, both in it.
    const documentId = 'ops-doc';
    const other = await mintDevToken({ userId: 'ops-other', ttlSec: 3600 });
    await publisher.publishDocumentPermission({ documentId, userId, role: 'editor' });
    await publisher.publishDocumentPermission({ documentId, userId: 'ops-other', role: 'editor' });
    await settle();
    const a = await open(token);
    const b = await open(other);
    sockets.push(a, b);
    for (const [ws, id] of [[a, 'pa'], [b, 'pb']] as const) {
      const snapshotSeen = next(ws, (m) => m['event'] === 'presence:snapshot');
      await subscribe(ws, `presence.${documentId}`, id);
      await snapshotSeen;
    }
    await measureUnit('presence update, 1 other member', async () => {
      for (let i = 0; i < repeat; i++) {
        const got = next(b, (m) => m['event'] === 'presence:update' && (m['cursor'] as { x?: number } | undefined)?.x === i);
        a.send(JSON.stringify({ action: 'presence', documentId, cursor: { x: i, y: 0 } }));
        await got;
        // Under the rate limiter's pace (a token bucket per connection).
        await sleep(60);
      }
      return repeat;
    });
    // disconnect: the first `repeat` sockets (each with one job subscription).
    await measureUnit('disconnect', async () => {
      const target = rt.gateway.connectionCount - repeat;
      for (const ws of sockets.slice(0, repeat)) ws.close();
      while (rt.gateway.connectionCount > target) await sleep(20);
      return 0;
    });
    return { repeat, units };
  } finally {
    for (const ws of sockets) ws.terminate();
    restoreSend();
    events?.destroy();
    admin?.disconnect();
    await runtime?.close();
    await redis?.stop();
  }
}

export function opsMarkdown(r: OpsResult): string {
  const n = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  const fns = (c: Counts): string =>
    Object.entries(c.invocations)
      .map(([k, v]) => `${k} ${n(v)} (${fmt1(c.lambdaMs[k as FunctionKey] ?? 0)} ms)`)
      .join(', ');
  return [
    table([
      ['per one', 'DynamoDB requests', 'RCU', 'WCU', 'Redis commands (sent)', 'management API calls', 'EventBridge events', 'SQS requests', 'API Gateway messages', 'Lambda invocations (local ms each)', 'DynamoDB requests by type'],
      ...UNITS.map((u) => {
        const c = r.units[u];
        return [
          u,
          n(c.dynamodbRequests),
          n(c.rcu),
          n(c.wcu),
          `${n(c.redisCommands)} (${n(c.redisSent)})`,
          n(c.managementCalls),
          n(c.putEventsEntries),
          n(c.sqsRequests),
          n(c.apiGatewayMessages),
          fns(c),
          Object.entries(c.dynamodbByCommand).map(([k, v]) => `${k} ${n(v)}`).join(', '),
        ];
      }),
    ]),
    '',
    `Each unit repeated ${String(r.repeat)} times and divided; capacity units as dynalite reports them with ReturnConsumedCapacity TOTAL (a failed conditional write counted as 1 WCU). ` +
      'Redis: commands executed by redis-server (INFO commandstats, script internals included), and in brackets the commands the handlers sent. ' +
      'SQS: messages sent (by the EventBridge rule or a handler) plus a ReceiveMessage and a DeleteMessageBatch per event-source batch. ' +
      'API Gateway messages: frames from clients plus posts delivered.',
  ].join('\n');
}
