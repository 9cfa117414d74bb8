/**
 * The presence storm's WebSocket clients, in their own process (spawned by
 * bench/presence-storm.ts with an IPC channel), so that sending on schedule and reading 24,500
 * messages a second do not compete with the runtime for its event loop.
 *
 * One socket per user, all subscribed to `presence.{documentId}`. During the storm each user
 * sends `{"action":"presence","documentId":D,"cursor":{"x":seq,"y":index}}`: `x` is the
 * sender's own sequence number and `y` its index, so a `presence:update` {userId, cursor}
 * names the update it relays. Send times are kept here, by sender and sequence, and every
 * receipt is timed against them with this process's `performance.now()`.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { FromStormClients, StormReport, ToStormClients } from './protocol.ts';
import { childIpc } from './ipc.ts';

const JOIN_TIMEOUT_MS = 30_000;

interface Member {
  index: number;
  userId: string;
  ws: WebSocket;
  /** Resolves on `presence:snapshot` (after the `subscribed` ack). */
  joined: Promise<void>;
}

interface Storm {
  perSender: number;
  startedAt: number;
  /** Send time (performance.now()) by sender × perSender + seq; NaN until sent. */
  sendTimes: Float64Array;
  /** Copies received, by (sender × perSender + seq) × members + receiver (saturating at 255). */
  copies: Uint8Array;
  /** One latency (ms) per delivery, and the second of the storm its update was sent in. */
  latencies: number[];
  sendSeconds: number[];
  receiptSeconds: number[];
  sent: number;
  duplicates: number;
  echoes: number;
  unmatched: number;
  firstReceiptAt: number;
  lastReceiptAt: number;
  lastSentAt: number;
  maxSlipMs: number;
}

const members: Member[] = [];
const byUser = new Map<string, Member>();
const errors: Record<string, number> = {};
let channel = '';
let storm: Storm | undefined;
let exiting = false;

const { send, fail } = childIpc<FromStormClients>('bench/storm-clients.ts');

type Incoming = {
  event?: unknown;
  channel?: unknown;
  userId?: unknown;
  cursor?: { x?: unknown; y?: unknown };
  code?: unknown;
  message?: unknown;
};

function onMessage(receiver: number, raw: WebSocket.RawData, onJoin: (m: Incoming) => void): void {
  const now = performance.now();
  let m: Incoming;
  try {
    m = JSON.parse(raw.toString()) as Incoming;
  } catch {
    errors['unparsable'] = (errors['unparsable'] ?? 0) + 1;
    return;
  }
  if (m.event === 'presence:update' && m.channel === channel && storm) {
    const s = storm;
    const sender = typeof m.userId === 'string' ? byUser.get(m.userId) : undefined;
    const seq = m.cursor?.x;
    if (!sender || typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq >= s.perSender || m.cursor?.y !== sender.index) {
      s.unmatched++;
      return;
    }
    const slot = sender.index * s.perSender + seq;
    const sentAt = s.sendTimes[slot]!;
    if (Number.isNaN(sentAt)) {
      s.unmatched++;
      return;
    }
    if (sender.index === receiver) s.echoes++;
    const cell = slot * members.length + receiver;
    const copies = s.copies[cell]!;
    if (copies < 255) s.copies[cell] = copies + 1;
    if (copies >= 1) s.duplicates++;
    s.latencies.push(now - sentAt);
    s.sendSeconds.push(Math.floor((sentAt - s.startedAt) / 1000));
    s.receiptSeconds.push(Math.floor((now - s.startedAt) / 1000));
    if (s.firstReceiptAt === 0) s.firstReceiptAt = now;
    s.lastReceiptAt = now;
    return;
  }
  if (m.event === 'error') {
    const code = typeof m.code === 'string' ? m.code : 'error';
    errors[code] = (errors[code] ?? 0) + 1;
    onJoin(m);
    return;
  }
  if (m.event === undefined && typeof m.message === 'string') {
    // API Gateway's answer to a failed or timed-out invocation.
    errors[m.message] = (errors[m.message] ?? 0) + 1;
    return;
  }
  onJoin(m);
}

function connect(url: string, index: number, userId: string, token: string): Member {
  const ws = new WebSocket(`${url}/?token=${encodeURIComponent(token)}`, { perMessageDeflate: false, headers: { 'user-agent': 'realtime-bench-storm' } });
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const joined = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const timer = setTimeout(() => settle?.reject(new Error(`${userId}: no presence snapshot within ${String(JOIN_TIMEOUT_MS)} ms`)), JOIN_TIMEOUT_MS);
  const onJoin = (m: Incoming): void => {
    if (m.event === 'presence:snapshot' && m.channel === channel) {
      clearTimeout(timer);
      settle?.resolve();
    } else if (m.event === 'error') {
      clearTimeout(timer);
      settle?.reject(new Error(`${userId}: ${String(m.code)} ${String(m.message)}`));
    }
  };
  ws.on('message', (data) => onMessage(index, data, onJoin));
  ws.once('open', () => ws.send(JSON.stringify({ action: 'subscribe', channel, requestId: `s${String(index)}` })));
  ws.once('unexpected-response', (_req, res) => {
    res.resume();
    ws.terminate();
    clearTimeout(timer);
    settle?.reject(new Error(`${userId}: upgrade refused: HTTP ${String(res.statusCode)}`));
  });
  ws.on('error', (error) => {
    clearTimeout(timer);
    settle?.reject(error);
  });
  ws.on('close', () => {
    if (!exiting) fail(new Error(`${userId}: socket closed during the benchmark`));
  });
  return { index, userId, ws, joined };
}

async function join(message: Extract<ToStormClients, { type: 'join' }>): Promise<void> {
  const started = Date.now();
  channel = `presence.${message.documentId}`;
  message.users.forEach(({ userId, token }, index) => {
    const member = connect(message.url, index, userId, token);
    members.push(member);
    byUser.set(userId, member);
  });
  await Promise.all(members.map((m) => m.joined));
  send({ type: 'joined', clients: members.length, ms: Date.now() - started });
}

/** Every member sends on its own schedule: update k at start + (index / n + k) × period. */
function run(message: Extract<ToStormClients, { type: 'storm' }>, documentId: string): Promise<void> {
  const period = 1000 / message.ratePerSecond;
  const perSender = Math.round(message.durationMs / period);
  const n = members.length;
  const startedAt = performance.now() + 20;
  const s: Storm = {
    perSender,
    startedAt,
    sendTimes: new Float64Array(n * perSender).fill(Number.NaN),
    copies: new Uint8Array(n * perSender * n),
    latencies: [],
    sendSeconds: [],
    receiptSeconds: [],
    sent: 0,
    duplicates: 0,
    echoes: 0,
    unmatched: 0,
    firstReceiptAt: 0,
    lastReceiptAt: 0,
    lastSentAt: 0,
    maxSlipMs: 0,
  };
  storm = s;
  return new Promise((resolve) => {
    let finished = 0;
    for (const member of members) {
      const due = (k: number): number => startedAt + (member.index / n + k) * period;
      const tick = (k: number): void => {
        setTimeout(() => {
          const now = performance.now();
          s.maxSlipMs = Math.max(s.maxSlipMs, now - due(k));
          s.sendTimes[member.index * perSender + k] = now;
          member.ws.send(JSON.stringify({ action: 'presence', documentId, cursor: { x: k, y: member.index } }));
          s.sent++;
          s.lastSentAt = now;
          if (k + 1 < perSender) tick(k + 1);
          else if (++finished === n) resolve();
        }, Math.max(0, due(k) - performance.now()));
      };
      tick(0);
    }
  });
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

function summary(values: number[]): { p50: number; p90: number; p99: number; max: number; mean: number } {
  const sorted = Float64Array.from(values).sort();
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: values.length ? sum / values.length : Number.NaN,
  };
}

function report(s: Storm): StormReport {
  const n = members.length;
  let relayed = 0;
  let relayedToAll = 0;
  for (let slot = 0; slot < s.sendTimes.length; slot++) {
    if (Number.isNaN(s.sendTimes[slot]!)) continue;
    const sender = Math.floor(slot / s.perSender);
    let receivers = 0;
    for (let r = 0; r < n; r++) if (r !== sender && s.copies[slot * n + r]! > 0) receivers++;
    if (receivers > 0) relayed++;
    if (receivers === n - 1) relayedToAll++;
  }
  const bySecond = new Map<number, number[]>();
  s.latencies.forEach((latency, i) => {
    const second = s.sendSeconds[i]!;
    let list = bySecond.get(second);
    if (!list) bySecond.set(second, (list = []));
    list.push(latency);
  });
  const sentBySecond = new Map<number, number>();
  for (const at of s.sendTimes) {
    if (Number.isNaN(at)) continue;
    const second = Math.floor((at - s.startedAt) / 1000);
    sentBySecond.set(second, (sentBySecond.get(second) ?? 0) + 1);
  }
  const receipts: number[] = [];
  for (const second of s.receiptSeconds) receipts[second] = (receipts[second] ?? 0) + 1;
  return {
    senders: members.length,
    sent: s.sent,
    deliveries: s.latencies.length,
    relayed,
    relayedToAll,
    duplicates: s.duplicates,
    echoes: s.echoes,
    unmatched: s.unmatched,
    errors: { ...errors },
    latency: summary(s.latencies),
    latencyBySendSecond: [...sentBySecond.keys()]
      .sort((a, b) => a - b)
      .map((second) => {
        const l = summary(bySecond.get(second) ?? []);
        return { second, sent: sentBySecond.get(second) ?? 0, deliveries: bySecond.get(second)?.length ?? 0, p50: l.p50, p99: l.p99, max: l.max };
      }),
    deliveriesByReceiptSecond: Array.from(receipts, (c) => c ?? 0),
    lastSentMs: s.lastSentAt - s.startedAt,
    firstReceiptMs: s.firstReceiptAt ? s.firstReceiptAt - s.startedAt : Number.NaN,
    lastReceiptMs: s.lastReceiptAt ? s.lastReceiptAt - s.startedAt : Number.NaN,
    maxSlipMs: s.maxSlipMs,
  };
}

/** Waits until no update has arrived for `quietMs` (at most `maxWaitMs`), then reports. */
async function reportWhenQuiet(message: Extract<ToStormClients, { type: 'report' }>): Promise<void> {
  const s = storm;
  if (!s) throw new Error('report before any storm');
  const deadline = performance.now() + message.maxWaitMs;
  for (;;) {
    const last = Math.max(s.lastReceiptAt, s.lastSentAt);
    if (performance.now() - last >= message.quietMs || performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  send({ type: 'report', ...report(s) });
}

function exit(): void {
  exiting = true;
  for (const m of members) m.ws.terminate();
  process.disconnect?.();
  setTimeout(() => process.exit(0), 50);
}

let documentId = '';
process.on('message', (raw: ToStormClients) => {
  switch (raw.type) {
    case 'join':
      documentId = raw.documentId;
      join(raw).catch(fail);
      return;
    case 'storm': {
      const started = Date.now();
      run(raw, documentId).then(
        () => send({ type: 'sent', sent: storm?.sent ?? 0, ms: Date.now() - started, maxSlipMs: storm?.maxSlipMs ?? 0 }),
        fail,
      );
      return;
    }
    case 'report':
      reportWhenQuiet(raw).catch(fail);
      return;
    case 'exit':
      exit();
      return;
  }
});

process.on('disconnect', () => {
  if (!exiting) {
    exiting = true;
    for (const m of members) m.ws.terminate();
    process.exit(1);
  }
});
