/**
 * The cost model: docs/cost.md, generated from the operations counted per unit of work
 * (bench/ops.ts) and the list prices of bench/prices.ts. Run by `npm run bench` (full runs, or
 * `--only cost`, which counts the operations first).
 *
 * What is counted and what is assumed:
 * - counted (bench/ops.ts): DynamoDB capacity units, Redis commands, management API calls,
 *   EventBridge events, SQS requests, API Gateway messages and Lambda invocations per unit;
 * - assumed (ASSUMPTIONS below): Lambda memory and duration on AWS (the local durations are one
 *   shared process, not Lambda's), bytes through the NAT gateway per management call, log bytes
 *   per invocation, one ECPU per Redis command, and how clients behave over a month.
 */
import { HANDLERS } from '../functions/handlers.ts';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FunctionKey } from '../local/runtime.ts';
import type { Counts, OpsResult, Unit } from './ops.ts';
import { PRICES, PRICES_READ_ON, REGION, type PriceName } from './prices.ts';
import { table } from './report.ts';

export const COST_DOC = fileURLToPath(new URL('../docs/cost.md', import.meta.url));

export const ASSUMPTIONS = {
  /** Every function on Arm, with the memory the stack deploys (HANDLERS in functions/handlers.ts). */
  lambdaMemoryMB: Object.fromEntries(Object.entries(HANDLERS).map(([k, h]) => [k, h.memoryMB])) as Record<FunctionKey, number>,
  /** Estimated duration on AWS: a base, plus each DynamoDB request and Redis command in turn, plus the posts in waves. */
  lambdaBaseMs: 5,
  dynamodbRequestMs: 6,
  redisCommandMs: 1,
  postMs: 25,
  postConcurrency: 50,
  /** A PostToConnection call (request, response, TLS framing) through the NAT gateway. */
  natBytesPerManagementCall: 2048,
  /** Per invocation: START/END/REPORT lines and one EMF metrics line. */
  logBytesPerInvocation: 1024,
  /** A simple command on an item under 1 KB is one ECPU; our scripts touch a few small keys each. */
  ecpuPerRedisCommand: 1,
  /** A month of 30 days. */
  month: { minutes: 30 * 24 * 60, hours: 30 * 24 },
  /** A connected user: reconnects when API Gateway closes the connection (2 hours), one channel each time, a ping every 5 minutes. */
  user: { connectionMaxMinutes: 120, subscriptionsPerConnection: 1, pingEveryMinutes: 5 },
  /** AppSync Events keeps a connection up to 24 hours; keep-alive messages are its own and not billed. */
  appSync: { connectionMaxMinutes: 24 * 60 },
  /** At rest: one NAT gateway (two for two AZs doubles it), the Valkey minimum, the metrics of functions/domain/ports.ts plus cold starts. */
  natGateways: 1,
  customMetrics: 26 + 6,
  /** The event source mapping's idle polling: five long-polls (20 s) at once. */
  idleSqsRequestsPerMonth: 5 * 3 * 60 * 30 * 24,
} as const;

const A = ASSUMPTIONS;
const p = (name: PriceName): number => PRICES[name].usd;

export interface Breakdown {
  apiGateway: number;
  lambda: number;
  dynamodb: number;
  redis: number;
  sqs: number;
  eventBridge: number;
  nat: number;
  logs: number;
}

const total = (b: Breakdown): number => Object.values(b).reduce((s, x) => s + x, 0);

/**
 * Estimated AWS duration of one invocation of `fn` in this unit of work: the authorizer only
 * verifies a JWT; the unit's requests are shared evenly by its other invocations (most units
 * have one).
 */
function durationMs(c: Counts, fn: FunctionKey): number {
  if (fn === 'authorizer') return A.lambdaBaseMs;
  const n = Object.entries(c.invocations).reduce((s, [k, x]) => s + (k === 'authorizer' ? 0 : (x ?? 0)), 0) || 1;
  const posts = c.managementCalls / n;
  return A.lambdaBaseMs + (A.dynamodbRequestMs * c.dynamodbRequests + A.redisCommandMs * c.redisSent) / n + A.postMs * Math.ceil(posts / A.postConcurrency);
}

/** Dollars for one unit of work. */
export function unitCost(c: Counts): Breakdown {
  let lambda = 0;
  let invocations = 0;
  for (const [fn, n] of Object.entries(c.invocations) as [FunctionKey, number][]) {
    invocations += n;
    lambda += n * (p('lambdaRequests') + (A.lambdaMemoryMB[fn] / 1024) * (durationMs(c, fn) / 1000) * p('lambdaArmGbSecond'));
  }
  return {
    apiGateway: c.apiGatewayMessages * p('apiGatewayWebSocketMessages'),
    lambda,
    dynamodb: c.rcu * p('dynamodbReadRequestUnits') + c.wcu * p('dynamodbWriteRequestUnits'),
    redis: c.redisCommands * A.ecpuPerRedisCommand * p('elastiCacheValkeyEcpu'),
    sqs: c.sqsRequests * p('sqsRequests'),
    eventBridge: c.putEventsEntries * p('eventBridgeCustomEvents'),
    nat: (c.managementCalls * A.natBytesPerManagementCall / 2 ** 30) * p('natGatewayGb'),
    logs: (invocations * A.logBytesPerInvocation / 2 ** 30) * p('cloudWatchLogsIngestionGb'),
  };
}

const scale = (b: Breakdown, k: number): Breakdown => Object.fromEntries(Object.entries(b).map(([key, v]) => [key, v * k])) as unknown as Breakdown;
const add = (...bs: Breakdown[]): Breakdown =>
  bs.reduce((acc, b) => Object.fromEntries(Object.entries(acc).map(([key, v]) => [key, v + b[key as keyof Breakdown]])) as unknown as Breakdown);

export interface Scenario {
  name: string;
  ours: Breakdown;
  /** Connection minutes for ours (API Gateway), separately. */
  connectionMinutes: number;
  appSync: number;
  appSyncNote: string;
}

export function scenarios(ops: OpsResult): Scenario[] {
  const u = (name: Unit): Breakdown => unitCost(ops.units[name]);
  const month = A.month.minutes;
  const reconnects = month / A.user.connectionMaxMinutes;
  const pings = month / A.user.pingEveryMinutes;
  const perUser = add(
    scale(u('connect'), reconnects),
    scale(u('subscribe'), reconnects * A.user.subscriptionsPerConnection),
    scale(u('ping'), pings),
    scale(u('disconnect'), reconnects),
  );
  const appSyncReconnects = month / A.appSync.connectionMaxMinutes;
  return [
    {
      name: 'a million job updates, each delivered to one subscriber',
      ours: scale(u('job update, 1 subscriber'), 1e6),
      connectionMinutes: 0,
      // One publish and one delivery per update.
      appSync: 1e6 * 2 * p('appSyncEventsOperations'),
      appSyncNote: '1 publish + 1 delivery per update',
    },
    {
      name: 'a million job updates, each delivered to ten subscribers',
      ours: scale(u('job update, 10 subscribers'), 1e6),
      connectionMinutes: 0,
      appSync: 1e6 * 11 * p('appSyncEventsOperations'),
      appSyncNote: '1 publish + 10 deliveries per update',
    },
    {
      name: '1,000 users connected for a month (no updates)',
      ours: scale(perUser, 1000),
      connectionMinutes: 1000 * month * p('apiGatewayWebSocketConnectionMinutes'),
      appSync: 1000 * (month * p('appSyncEventsConnectionMinutes') + appSyncReconnects * (1 + A.user.subscriptionsPerConnection) * p('appSyncEventsOperations')),
      appSyncNote: `connection minutes, plus a connect and a subscribe operation every ${String(A.appSync.connectionMaxMinutes / 60)} hours`,
    },
  ];
}

export function fixedCosts(): { name: string; usd: number }[] {
  const h = A.month.hours;
  return [
    { name: `NAT gateway (${String(A.natGateways)}, hours only)`, usd: A.natGateways * h * p('natGatewayHour') },
    { name: 'ElastiCache Serverless for Valkey, minimum storage metered (100 MB)', usd: p('elastiCacheValkeyMinimumGb') * h * p('elastiCacheValkeyStorageGbHour') },
    { name: `CloudWatch custom metrics (${String(A.customMetrics)}, EMF)`, usd: A.customMetrics * p('cloudWatchCustomMetricMonth') },
    { name: 'SQS: the event source mapping polling an idle queue', usd: A.idleSqsRequestsPerMonth * p('sqsRequests') },
  ];
}

const usd = (x: number): string => (x === 0 ? '$0' : x < 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`);

export function costMarkdown(ops: OpsResult, generatedAt = new Date()): string {
  const rows = scenarios(ops);
  const fixed = fixedCosts();
  const fixedTotal = fixed.reduce((s, f) => s + f.usd, 0);
  const prices = Object.entries(PRICES).map(([name, pr]) => [
    `\`${name}\``,
    pr.usd < 1e-5 ? `$${(pr.usd * 1e6).toFixed(4)} per million` : `$${String(pr.usd)}`,
    pr.unit,
    pr.confirmed ? 'yes' : '**no**',
    pr.source + ('note' in pr ? ` (${pr.note})` : ''),
  ]);
  return [
    '# Cost model',
    '',
    `Generated by \`bench/cost.ts\` (run by \`npm run bench\`) on ${generatedAt.toISOString().slice(0, 10)} from the operations counted in \`bench/ops.ts\` ` +
      `(each unit of work repeated ${String(ops.repeat)} times on the local runtime, see [benchmarks.md](benchmarks.md#operations-per-unit-of-work)) ` +
      `and the list prices in \`bench/prices.ts\` (${REGION}, read ${PRICES_READ_ON}). Do not edit by hand.`,
    '',
    'List prices, on demand, no free tier, no Savings Plans; data transfer out to the internet is left out of both columns (it is the same bytes either way).',
    '',
    '## Variable costs',
    '',
    table([
      ['work', 'ours, total', 'API Gateway messages', 'connection minutes', 'Lambda', 'DynamoDB', 'ElastiCache ECPUs', 'SQS', 'EventBridge', 'NAT data', 'logs', 'AppSync Events', 'AppSync counts'],
      ...rows.map((s) => [
        s.name,
        `**${usd(total(s.ours) + s.connectionMinutes)}**`,
        usd(s.ours.apiGateway),
        usd(s.connectionMinutes),
        usd(s.ours.lambda),
        usd(s.ours.dynamodb),
        usd(s.ours.redis),
        usd(s.ours.sqs),
        usd(s.ours.eventBridge),
        usd(s.ours.nat),
        usd(s.ours.logs),
        `**${usd(s.appSync)}**`,
        s.appSyncNote,
      ]),
    ]),
    '',
    '- AppSync Events is pub/sub only. The same work on it still needs what this product adds: job state that never goes backwards, ' +
      'replay from an offset, per-owner authorization at delivery, presence, SSE. Those would be handlers (Lambda, DynamoDB) priced on top; the AppSync column leaves them out.',
    '- SQS: the counts come from units run one at a time, so every event-source batch held one message (a ReceiveMessage and a DeleteMessageBatch each); ' +
      'under load batches of up to 10 share those two requests, and the SQS share falls toward a third of this.',
    `- A connected user here reconnects every ${String(A.user.connectionMaxMinutes)} minutes (API Gateway's limit), subscribes to ` +
      `${String(A.user.subscriptionsPerConnection)} channel each time and pings every ${String(A.user.pingEveryMinutes)} minutes (API Gateway closes a connection idle for 10).`,
    '',
    '## Fixed costs at rest (a month, whatever the traffic)',
    '',
    table([['what', 'a month'], ...fixed.map((f) => [f.name, usd(f.usd)]), ['**total**', `**${usd(fixedTotal)}**`]]),
    '',
    'AppSync Events has no fixed cost at rest.',
    '',
    '## Assumptions (in `bench/cost.ts`)',
    '',
    `- Lambda on Arm, memory ${Object.entries(A.lambdaMemoryMB).map(([k, v]) => `${k} ${String(v)} MB`).join(', ')}.`,
    `- Lambda duration on AWS is estimated, not measured: ${String(A.lambdaBaseMs)} ms, plus ${String(A.dynamodbRequestMs)} ms per DynamoDB request and ` +
      `${String(A.redisCommandMs)} ms per Redis command sent, one after another, plus ${String(A.postMs)} ms per wave of ${String(A.postConcurrency)} posts.`,
    `- NAT: ${String(A.natBytesPerManagementCall)} bytes per management API call (the VPC functions reach \`execute-api\` through it; DynamoDB, SQS and EventBridge through gateway or interface endpoints are not counted).`,
    `- Logs: ${String(A.logBytesPerInvocation)} bytes per invocation. ElastiCache: ${String(A.ecpuPerRedisCommand)} ECPU per command Redis executed (script internals included, an upper bound).`,
    '',
    '## Per unit of work (the counts behind the table)',
    '',
    table([
      ['per one', 'ours', 'of which Lambda', 'DynamoDB', 'API Gateway messages'],
      ...(Object.keys(ops.units) as Unit[]).map((name) => {
        const b = unitCost(ops.units[name]);
        const micro = (x: number): string => `$${(x * 1e6).toFixed(2)} per million`;
        return [name, micro(total(b)), micro(b.lambda), micro(b.dynamodb), micro(b.apiGateway)];
      }),
    ]),
    '',
    '## Prices',
    '',
    table([['name', 'price', 'unit', 'confirmed on a stored page', 'source'], ...prices]),
    '',
  ].join('\n');
}

export function writeCostDoc(ops: OpsResult): void {
  writeFileSync(COST_DOC, costMarkdown(ops));
}
