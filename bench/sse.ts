/**
 * Publish-to-SSE latency for `npm run bench`: S streams open on the local runtime's SSE function
 * URL (the real `sse` handler, polling dynalite with the default intervals), R rounds of
 * `user.notification`s published through EventBridge PutEvents, and the time from just before
 * each PutEvents call to the notification's arrival on each stream.
 *
 * Two layouts, one after the other on the same runtime:
 * - `per-user`: stream i is user `sse-user-{i}` following `user.sse-user-{i}`; a round is one
 *   notification per user, in PutEvents batches of 10 (S events through the fan-out);
 * - `shared`: every stream is user `sse-shared` following `user.sse-shared`; a round is one
 *   notification (one event, S deliveries).
 *
 * The streams live in a child process (bench/sse-clients.ts). A round's publish time travels in
 * the notification's data (`sentAt`); the child answers `complete` once every stream has the
 * round. Between rounds the bench waits until every stream's poll interval is back at its
 * maximum, plus a random part of one interval: each round meets idle streams at a random phase.
 *
 * The handlers' DynamoDB client is watched (a middleware on the client the wiring builds once):
 * BatchGetItem is the streams' head reads, a Query on an `H#` key their history reads, the rest
 * the fan-out's; the moment a history PutItem returns is when a poll can first deliver it.
 */
import { performance } from 'node:perf_hooks';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { loadConfig } from '../functions/config.ts';
import { DETAIL_TYPES, EVENT_SOURCE, NotificationDetail } from '../functions/domain/messages.ts';
import { resetDependencies } from '../functions/wiring/common.ts';
import { mintDevToken } from '../local/dev-token.ts';
import { MAX_PUT_EVENTS_ENTRIES } from '../local/eventbridge.ts';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime.ts';
import { ClientsProcess } from './child.ts';
import type { FromSseClients, SseClientCounters, SseReceipt, ToSseClients } from './protocol.ts';

export type SseMode = 'per-user' | 'shared';

/** The standard run, and `--quick`. */
export const SSE = {
  streams: 200,
  /** 10 rounds per layout (2,000 deliveries each) keep the whole `npm run bench` under 10 minutes. */
  rounds: 10,
  /** How long the idle streams' polls are counted before the first round. */
  idleMs: 5_000,
  quickStreams: 50,
  quickRounds: 5,
  quickSharedRounds: 2,
  quickIdleMs: 1_000,
} as const;

export interface SseBenchOptions {
  streams: number;
  rounds: Record<SseMode, number>;
  idleMs: number;
  progress: (line: string) => void;
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SseRoundResult {
  runId: string;
  /** The PutEvents calls of the round, first start to last return. */
  putMs: number;
  delivered: number;
  latency: Summary;
}

export interface SseResult {
  mode: SseMode;
  streams: number;
  channels: number;
  rounds: number;
  pollMinMs: number;
  pollMaxMs: number;
  heartbeatMs: number;
  /** Every stream opened and `subscribed` received. */
  openMs: number;
  /** SSE invocations running once every stream was open. */
  activeAfterOpen: number;
  /** One round before any stream is open (after a warm-up round): publish → history written, per event. */
  fanoutAlone: Summary;
  /** The idle streams' DynamoDB calls before the first round. */
  idle: { ms: number; calls: Record<string, number> };
  /** From the first round's publish to the last round's last receipt (gaps between rounds included). */
  window: { ms: number; calls: Record<string, number>; cpuMs: number; eventLoopBusy: number };
  events: number;
  putEventsCalls: number;
  expected: number;
  delivered: number;
  incompleteRounds: string[];
  /** Publish → receipt, per delivery. */
  latency: Summary;
  /** Publish → the history PutItem returned, per event. */
  toHistory: Summary;
  /** History written → receipt, per delivery. */
  historyToReceipt: Summary;
  perRound: SseRoundResult[];
  counters: SseClientCounters;
  closeMs: number;
  /** SSE invocations still running after the streams were closed (and a moment to notice). */
  activeAfterClose: number;
}

/** DynamoDB calls by what they are for (see the module comment). */
export const CALL = {
  heads: 'BatchGetItem (SSE channel heads)',
  history: 'Query (SSE history reads)',
} as const;

const ROUND_TIMEOUT_MS = 30_000;
const IDLE_EXIT_TIMEOUT_MS = 10_000;

type Answer<K extends FromSseClients['type']> = Extract<FromSseClients, { type: K }>;
const answer =
  <K extends FromSseClients['type']>(type: K, runId?: string) =>
  (m: FromSseClients): m is Answer<K> =>
    m.type === type && (runId === undefined || !('runId' in m) || m.runId === runId);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms: ${what()}`);
    await sleep(20);
  }
}

/** `{ S: 'x' }` (marshalled) or `'x'` (document client input, before marshalling). */
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : v !== null && typeof v === 'object' && typeof (v as { S?: unknown }).S === 'string' ? (v as { S: string }).S : undefined;

/** Time from the last activity until every stream polls at `pollMaxMs` (200 + 400 + 800 by default). */
export function settleMs(pollMinMs: number, pollMaxMs: number): number {
  let total = 0;
  for (let interval = pollMinMs; interval < pollMaxMs; interval = Math.min(pollMaxMs, interval * 2)) total += interval;
  return total;
}

export async function runSseBench(options: SseBenchOptions): Promise<SseResult[]> {
  const { progress } = options;
  // The handlers build their clients once per process: an earlier runtime's must be forgotten.
  resetDependencies();
  let runtime: LocalRuntime | undefined;
  let events: EventBridgeClient | undefined;
  let clients: ClientsProcess<ToSseClients, FromSseClients> | undefined;
  try {
    const env: Record<string, string> = {};
    if (!process.env['POWERTOOLS_LOG_LEVEL']) env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';
    if (!process.env['POWERTOOLS_METRICS_DISABLED']) env['POWERTOOLS_METRICS_DISABLED'] = 'true';
    runtime = await startLocalRuntime({ port: 0, log: 'silent', env });
    const rt = runtime;
    const { sse } = loadConfig(process.env);
    progress(`sse: runtime on ${rt.url}, streams poll every ${String(sse.pollMinMs)} ms after activity, up to ${String(sse.pollMaxMs)} ms while idle`);

    // The handlers' DynamoDB client (built once, shared by the sse and fanout handlers here).
    const { table } = await import('../functions/wiring/stores.ts');
    const calls: Record<string, number> = {};
    const historyWrittenAt = new Map<string, number>();
    table().client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = (context.commandName ?? '?').replace(/Command$/, '');
        const input = args.input as { ExpressionAttributeValues?: Record<string, unknown>; Item?: Record<string, unknown> };
        let kind = command;
        let history: string | undefined;
        if (command === 'BatchGetItem') kind = CALL.heads;
        else if (command === 'Query' && str(input.ExpressionAttributeValues?.[':pk'])?.startsWith('H#')) kind = CALL.history;
        else if (command === 'Query') kind = 'Query (subscribers)';
        else if (command === 'PutItem' && str(input.Item?.['pk'])?.startsWith('H#')) {
          kind = 'PutItem (history)';
          history = `${str(input.Item?.['pk'])!.slice(2)}#${String(Number(str(input.Item?.['sk'])))}`;
        }
        calls[kind] = (calls[kind] ?? 0) + 1;
        const out = await next(args);
        if (history !== undefined) historyWrittenAt.set(history, Date.now());
        return out;
      },
      { step: 'initialize', name: 'benchSseCount' },
    );
    const snapshot = (): Record<string, number> => ({ ...calls });
    const since = (before: Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));

    events = new EventBridgeClient({ endpoint: rt.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const eb = events;
    clients = new ClientsProcess<ToSseClients, FromSseClients>(new URL('./sse-clients.ts', import.meta.url));
    const child = clients;

    /** One notification per user, in PutEvents batches of 10 sent at once; the PutEvents calls and each user's publish time. */
    const publish = async (userIds: readonly string[], runId: string): Promise<{ calls: number; sentAt: Map<string, number> }> => {
      const sentAts = new Map<string, number>();
      const batches: string[][] = [];
      for (let i = 0; i < userIds.length; i += MAX_PUT_EVENTS_ENTRIES) batches.push(userIds.slice(i, i + MAX_PUT_EVENTS_ENTRIES));
      await Promise.all(
        batches.map(async (batch) => {
          const sentAt = Date.now();
          for (const userId of batch) sentAts.set(userId, sentAt);
          const entries = batch.map((userId) => ({
            EventBusName: 'realtime',
            Source: EVENT_SOURCE,
            DetailType: DETAIL_TYPES.notification,
            // Validated as the publisher does; `runId` and `sentAt` pass through to the message's data.
            Detail: JSON.stringify(NotificationDetail.parse({ userId, type: 'bench.sse', runId, sentAt, timestamp: new Date(sentAt).toISOString() })),
          }));
          const out = await eb.send(new PutEventsCommand({ Entries: entries }));
          if ((out.FailedEntryCount ?? 0) > 0) throw new Error(`PutEvents refused ${String(out.FailedEntryCount)} of ${String(entries.length)} entries: ${JSON.stringify(out.Entries)}`);
        }),
      );
      return { calls: batches.length, sentAt: sentAts };
    };

    const results: SseResult[] = [];
    for (const mode of ['per-user', 'shared'] as const) {
      const rounds = options.rounds[mode];
      if (rounds <= 0) continue;
      const n = options.streams;
      const userIds = mode === 'per-user' ? Array.from({ length: n }, (_, i) => `sse-user-${String(i)}`) : ['sse-shared'];
      const tokens = new Map(await Promise.all(userIds.map(async (u) => [u, await mintDevToken({ userId: u, ttlSec: 3600 })] as const)));
      const streams = Array.from({ length: n }, (_, i) => {
        const userId = userIds[mode === 'per-user' ? i : 0]!;
        return { channel: `user.${userId}`, token: tokens.get(userId)! };
      });

      // Spread over one idle interval: the streams poll at every phase of it, as clients that
      // arrived at different times would.
      // Before any stream is open: a warm-up round (not counted), then the fan-out on its own, one
      // round with nothing polling (offsets 1 and 2 of each channel; the streams start from the
      // head, so neither is delivered to them).
      let fanoutAlone: Summary | undefined;
      for (const offset of [1, 2]) {
        const published = await publish(userIds, `${mode}-before-${String(offset)}`);
        const historyKey = (userId: string): string => `user.${userId}#${String(offset)}`;
        await until(() => userIds.every((u) => historyWrittenAt.has(historyKey(u))), 60_000, () =>
          `${String(userIds.filter((u) => historyWrittenAt.has(historyKey(u))).length)} of ${String(userIds.length)} notifications published before the streams in history`,
        );
        await rt.queues.events.drained();
        fanoutAlone = summary(userIds.map((u) => historyWrittenAt.get(historyKey(u))! - published.sentAt.get(u)!));
        progress(`sse ${mode}: ${offset === 1 ? 'warm-up' : 'fan-out alone'}, no stream open: ${String(userIds.length)} event(s) in history after ${ms(fanoutAlone.max)} (p50 ${ms(fanoutAlone.p50)})`);
      }

      const opened = await child.request({ type: 'open', url: rt.sseUrl, streams, spreadMs: sse.pollMaxMs }, answer('opened'), 120_000, `${String(n)} SSE streams`);
      const activeAfterOpen = rt.sse.active;
      if (opened.streams !== n || activeAfterOpen !== n) {
        throw new Error(`expected ${String(n)} streams, the client process has ${String(opened.streams)} and the function URL ${String(activeAfterOpen)} invocations`);
      }
      progress(`sse ${mode}: ${String(n)} streams on ${String(userIds.length)} channel(s) opened in ${String(opened.ms)} ms`);

      // Let every stream back off to its idle interval, then count what idling costs.
      const settle = settleMs(sse.pollMinMs, sse.pollMaxMs) + 100;
      await sleep(settle);
      const idleBefore = snapshot();
      const idleStart = Date.now();
      await sleep(options.idleMs);
      const idle = { ms: Date.now() - idleStart, calls: since(idleBefore) };

      const windowBefore = snapshot();
      const cpu0 = process.cpuUsage();
      const elu0 = performance.eventLoopUtilization();
      const t0 = Date.now();
      let putEventsCalls = 0;
      const incompleteRounds: string[] = [];
      const putMs = new Map<string, number>();
      for (let r = 1; r <= rounds; r++) {
        const runId = `${mode}-${String(r)}`;
        // A random part of one idle interval: the publish meets each stream at a random phase.
        await sleep((r === 1 ? 0 : settle) + Math.random() * sse.pollMaxMs);
        await child.request({ type: 'expect', runId, n }, answer('expecting', runId), 10_000, `the client process to expect ${runId}`);
        const complete = child.request(undefined, answer('complete', runId), ROUND_TIMEOUT_MS, `all ${String(n)} streams to receive ${runId}`);
        complete.catch(() => undefined);
        const putStart = Date.now();
        putEventsCalls += (await publish(userIds, runId)).calls;
        putMs.set(runId, Date.now() - putStart);
        try {
          const done = await complete;
          progress(`sse ${mode}, round ${String(r)}/${String(rounds)}: last of ${String(n)} streams after ${String(done.lastAt - putStart)} ms`);
        } catch (error) {
          incompleteRounds.push(runId);
          progress(`sse ${mode}, round ${String(r)}/${String(rounds)}: INCOMPLETE (${error instanceof Error ? error.message : String(error)})`);
        }
      }
      const cpu = process.cpuUsage(cpu0);
      const window = {
        ms: Date.now() - t0,
        calls: since(windowBefore),
        cpuMs: (cpu.user + cpu.system) / 1000,
        eventLoopBusy: performance.eventLoopUtilization(elu0).utilization,
      };

      const { receipts, counters } = await child.request({ type: 'receipts' }, answer('receipts'), 30_000, 'the receipts');
      const closeStart = Date.now();
      await child.request({ type: 'close' }, answer('closed'), 30_000, `${String(n)} streams to close`);
      // Each stream's handler notices its client left (a closed response stream) and returns.
      await Promise.race([rt.sse.idle(), sleep(IDLE_EXIT_TIMEOUT_MS)]);
      const closeMs = Date.now() - closeStart;
      const activeAfterClose = rt.sse.active;
      progress(`sse ${mode}: ${String(n)} streams closed, ${String(activeAfterClose)} SSE invocations still running after ${String(closeMs)} ms`);

      results.push(
        summarize({
          mode,
          n,
          channels: userIds.length,
          rounds,
          sse,
          openMs: opened.ms,
          activeAfterOpen,
          fanoutAlone: fanoutAlone!,
          idle,
          window,
          events: userIds.length * rounds,
          putEventsCalls,
          incompleteRounds,
          putMs,
          receipts,
          counters,
          historyWrittenAt,
          closeMs,
          activeAfterClose,
        }),
      );
    }
    return results;
  } finally {
    await clients?.exit().catch(() => clients?.kill());
    events?.destroy();
    if (runtime) await runtime.close();
    resetDependencies();
  }
}

function summarize(x: {
  mode: SseMode;
  n: number;
  channels: number;
  rounds: number;
  sse: { pollMinMs: number; pollMaxMs: number; heartbeatMs: number };
  openMs: number;
  activeAfterOpen: number;
  fanoutAlone: Summary;
  idle: SseResult['idle'];
  window: SseResult['window'];
  events: number;
  putEventsCalls: number;
  incompleteRounds: string[];
  putMs: Map<string, number>;
  receipts: SseReceipt[];
  counters: SseClientCounters;
  historyWrittenAt: Map<string, number>;
  closeMs: number;
  activeAfterClose: number;
}): SseResult {
  const { receipts } = x;
  const key = (r: SseReceipt): string => `${r.channel}#${String(r.offset)}`;
  const toHistory = new Map<string, number>();
  const historyToReceipt: number[] = [];
  for (const r of receipts) {
    const written = x.historyWrittenAt.get(key(r));
    if (written === undefined) continue;
    toHistory.set(key(r), written - r.sentAt);
    historyToReceipt.push(r.receivedAt - written);
  }
  const byRound = new Map<string, number[]>();
  for (const r of receipts) {
    let list = byRound.get(r.runId);
    if (!list) byRound.set(r.runId, (list = []));
    list.push(r.receivedAt - r.sentAt);
  }
  return {
    mode: x.mode,
    streams: x.n,
    channels: x.channels,
    rounds: x.rounds,
    pollMinMs: x.sse.pollMinMs,
    pollMaxMs: x.sse.pollMaxMs,
    heartbeatMs: x.sse.heartbeatMs,
    openMs: x.openMs,
    activeAfterOpen: x.activeAfterOpen,
    fanoutAlone: x.fanoutAlone,
    idle: x.idle,
    window: x.window,
    events: x.events,
    putEventsCalls: x.putEventsCalls,
    expected: x.n * x.rounds,
    delivered: receipts.length,
    incompleteRounds: x.incompleteRounds,
    latency: summary(receipts.map((r) => r.receivedAt - r.sentAt)),
    toHistory: summary([...toHistory.values()]),
    historyToReceipt: summary(historyToReceipt),
    perRound: Array.from({ length: x.rounds }, (_, i) => {
      const runId = `${x.mode}-${String(i + 1)}`;
      const latencies = byRound.get(runId) ?? [];
      return { runId, putMs: x.putMs.get(runId) ?? Number.NaN, delivered: latencies.length, latency: summary(latencies) };
    }),
    counters: x.counters,
    closeMs: x.closeMs,
    activeAfterClose: x.activeAfterClose,
  };
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

function summary(values: number[]): Summary {
  const sorted = Float64Array.from(values).sort();
  return {
    n: values.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN,
  };
}

/** What would make the run wrong (not slow): missing, repeated or reordered deliveries, streams left running. */
export function sseProblems(results: SseResult[]): string[] {
  return results.flatMap((r) => {
    const problems: string[] = [];
    if (r.delivered !== r.expected) problems.push(`${String(r.delivered)} of ${String(r.expected)} deliveries${r.incompleteRounds.length ? ` (incomplete: ${r.incompleteRounds.join(', ')})` : ''}`);
    if (r.counters.duplicates) problems.push(`${String(r.counters.duplicates)} duplicate(s)`);
    if (r.counters.outOfOrder) problems.push(`${String(r.counters.outOfOrder)} out-of-order notification(s)`);
    const unexpected = Object.entries(r.counters.unexpected);
    if (unexpected.length) problems.push(`unexpected events: ${unexpected.map(([k, v]) => `${k} ${String(v)}`).join(', ')}`);
    if (r.counters.endedEarly) problems.push(`${String(r.counters.endedEarly)} stream(s) ended by the server`);
    if (r.activeAfterClose) problems.push(`${String(r.activeAfterClose)} SSE invocation(s) still running after the streams closed`);
    return problems.map((p) => `${label(r)}: ${p}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Reporting (one row or column per layout)

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
const ms = (n: number): string => (Number.isFinite(n) ? `${fmt(n)} ms` : 'n/a');
const trio = (s: Summary): string => `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}`;

function table(rows: string[][]): string {
  const [head, ...body] = rows;
  return [head!, head!.map(() => '---'), ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export const label = (r: SseResult): string =>
  r.mode === 'per-user' ? `${fmt(r.streams)} streams, one channel each` : `${fmt(r.streams)} streams on one channel`;

const perSecond = (count: number, streams: number, windowMs: number): string => fmt((count * 1000) / windowMs / streams, 2);

export function sseSettingLines(results: SseResult[]): string[] {
  const r = results[0]!;
  return [
    `- a fresh local runtime (one process: every handler, dynalite, the SSE function URL), the SSE defaults: a poll ${String(r.pollMinMs)} ms after activity, ` +
      `doubling while idle up to ${String(r.pollMaxMs)} ms (SSE_POLL_MIN_MS, SSE_POLL_MAX_MS), a heartbeat after ${fmt(r.heartbeatMs / 1000)} s of silence`,
    `- the streams live in a child process: \`node:http\` GETs of \`/sse?channels=user.{id}&token={dev JWT}\`, one socket each, parsed as they stream, their starts spread over ${String(r.pollMaxMs)} ms (no lock-step polling); ` +
      '"one channel each": stream i is user `sse-user-{i}` on `user.sse-user-{i}` and a round is one `user.notification` per user in PutEvents batches of 10; ' +
      '"one channel": every stream is user `sse-shared` on `user.sse-shared` and a round is one notification',
    `- rounds: ${results.map((x) => `${label(x)} ${String(x.rounds)}`).join(', ')}; before each, the bench waits until every stream is back at its ${String(r.pollMaxMs)} ms idle interval ` +
      `(${fmt(settleMs(r.pollMinMs, r.pollMaxMs))} ms after the previous round's last receipt, plus 100 ms) and then a random 0–${String(r.pollMaxMs)} ms, so a round meets idle streams at a random phase`,
    '- latency: from just before the PutEvents call (its time travels in the notification\'s data) to the chunk\'s arrival in the child, on the same wall clock; ' +
      '"history written" is when the fan-out\'s PutItem of the history message returned, the first moment a poll can deliver it',
  ];
}

export function sseTable(results: SseResult[]): string {
  return table([
    [
      'streams',
      'rounds',
      'delivered / expected',
      'publish → receipt p50 / p99 / max',
      'p90, mean',
      'publish → history written, per event: p50 / p99 / max',
      'history written → receipt p50 / p99 / max',
      'the same with no stream open: publish → history written p50 / max',
      'PutEvents calls per round',
    ],
    ...results.map((r) => [
      label(r),
      String(r.rounds),
      `${fmt(r.delivered)} / ${fmt(r.expected)}`,
      trio(r.latency),
      `${ms(r.latency.p90)}, ${ms(r.latency.mean)}`,
      trio(r.toHistory),
      trio(r.historyToReceipt),
      `${ms(r.fanoutAlone.p50)} / ${ms(r.fanoutAlone.max)}`,
      fmt(r.putEventsCalls / r.rounds),
    ]),
  ]);
}

export function sseCostTable(results: SseResult[]): string {
  const row = (name: string, cell: (r: SseResult) => string): string[] => [name, ...results.map(cell)];
  const count = (calls: Record<string, number>, kind: string): number => calls[kind] ?? 0;
  const fanoutKinds = [...new Set(results.flatMap((r) => Object.keys(r.window.calls)))].filter((k) => k !== CALL.heads && k !== CALL.history).sort();
  return table([
    ['', ...results.map(label)],
    row(`idle streams: ${CALL.heads} per stream per second (from the interval: ${fmt(1000 / results[0]!.pollMaxMs, 2)})`, (r) =>
      `${perSecond(count(r.idle.calls, CALL.heads), r.streams, r.idle.ms)} (${fmt(count(r.idle.calls, CALL.heads))} in ${fmt(r.idle.ms / 1000, 1)} s)`,
    ),
    row('idle streams: other DynamoDB calls', (r) => fmt(Object.entries(r.idle.calls).filter(([k]) => k !== CALL.heads).reduce((a, [, v]) => a + v, 0))),
    row(`rounds: ${CALL.heads} per stream per second`, (r) =>
      `${perSecond(count(r.window.calls, CALL.heads), r.streams, r.window.ms)} (${fmt(count(r.window.calls, CALL.heads))} in ${fmt(r.window.ms / 1000, 1)} s)`,
    ),
    row(`rounds: ${CALL.heads} beyond the idle rate, per delivery (the back-off after each)`, (r) => {
      const idleRate = count(r.idle.calls, CALL.heads) / r.idle.ms;
      return fmt((count(r.window.calls, CALL.heads) - idleRate * r.window.ms) / Math.max(1, r.delivered), 2);
    }),
    row(`rounds: ${CALL.history} per delivery`, (r) => `${fmt(count(r.window.calls, CALL.history) / Math.max(1, r.delivered), 2)} (${fmt(count(r.window.calls, CALL.history))})`),
    row('rounds: the fan-out\'s DynamoDB calls per event', (r) =>
      fanoutKinds
        .filter((k) => count(r.window.calls, k) > 0)
        .map((k) => `${k} ${fmt(count(r.window.calls, k) / r.events, 2)}`)
        .join(', '),
    ),
    row('rounds: bench process CPU (runtime, handlers, dynalite)', (r) =>
      `${fmt(r.window.cpuMs / 1000, 1)} s in ${fmt(r.window.ms / 1000, 1)} s (${fmt(r.window.cpuMs / r.window.ms, 2)} cores), event loop ${fmt(100 * r.window.eventLoopBusy)} % busy`,
    ),
    row('heartbeats / duplicates / out of order / unexpected events / streams ended by the server', (r) =>
      [r.counters.heartbeats, r.counters.duplicates, r.counters.outOfOrder, Object.values(r.counters.unexpected).reduce((a, b) => a + b, 0), r.counters.endedEarly].map((v) => fmt(v)).join(' / '),
    ),
    row('SSE invocations: once every stream was open / after the streams closed', (r) =>
      `${fmt(r.activeAfterOpen)} (opened in ${ms(r.openMs)}) / ${fmt(r.activeAfterClose)} (closed in ${ms(r.closeMs)})`,
    ),
  ]);
}

export function sseRoundsTable(results: SseResult[]): string {
  const rounds = Math.max(...results.map((r) => r.rounds));
  return table([
    ['round', ...results.map((r) => `${label(r)}: p50 / max (PutEvents)`)],
    ...Array.from({ length: rounds }, (_, i) => [
      String(i + 1),
      ...results.map((r) => {
        const x = r.perRound[i];
        if (!x) return '';
        const missing = x.delivered < r.streams ? `, ${fmt(x.delivered)} of ${fmt(r.streams)}` : '';
        return `${ms(x.latency.p50)} / ${ms(x.latency.max)} (${ms(x.putMs)}${missing})`;
      }),
    ]),
  ]);
}

/** The SSE part of the printed output and of docs/benchmarks.md. */
export function sseMarkdown(results: SseResult[]): string {
  return [
    'Settings:',
    '',
    ...sseSettingLines(results),
    '',
    sseTable(results),
    '',
    'DynamoDB poll cost and the rest ("rounds" runs from the first round\'s publish to the last round\'s last receipt, the waits between rounds included):',
    '',
    sseCostTable(results),
    '',
    'Round by round (publish → receipt over the streams, and the PutEvents calls of the round):',
    '',
    sseRoundsTable(results),
  ].join('\n');
}
