/**
 * The SSE benchmark's clients, in their own process (spawned by bench/sse.ts with an IPC
 * channel), so that reading 200 streams does not compete with the runtime for its event loop.
 *
 * Each stream is a plain `node:http` GET of the runtime's SSE URL
 * (`/sse?channels={channel}&token={jwt}`, its own socket, no agent), read as it streams and
 * parsed with the SSE parser of test/support/sse.ts (the WHATWG algorithm, as a browser parses).
 * Every round's notification carries its `runId` and `sentAt` (the bench's clock just before
 * PutEvents) in its data; the first copy on each stream is recorded with the time its chunk
 * arrived here.
 */
import http from 'node:http';
import { SseParser } from '../test/support/sse.ts';
import type { FromSseClients, SseClientCounters, SseReceipt, ToSseClients } from './protocol.ts';
import { childIpc } from './ipc.ts';

const OPEN_TIMEOUT_MS = 30_000;

interface Stream {
  index: number;
  channel: string;
  req: http.ClientRequest;
  /** Resolves when the socket has closed (either side). */
  closed: Promise<void>;
  lastOffset: number;
  /** Rounds received on this stream. */
  runs: Set<string>;
}

interface Round {
  /** Distinct streams that have it. */
  received: number;
  lastAt: number;
  target: number | undefined;
  completed: boolean;
}

let streams: Stream[] = [];
let receipts: SseReceipt[] = [];
let rounds = new Map<string, Round>();
let counters: SseClientCounters = freshCounters();
/** Set while the bench closes the streams: their ends are expected then. */
let closing = false;
let exiting = false;

function freshCounters(): SseClientCounters {
  return { streams: 0, duplicates: 0, outOfOrder: 0, unexpected: {}, heartbeats: 0, endedEarly: 0 };
}

const { send, fail } = childIpc<FromSseClients>('bench/sse-clients.ts');

function round(runId: string): Round {
  let r = rounds.get(runId);
  if (!r) {
    r = { received: 0, lastAt: 0, target: undefined, completed: false };
    rounds.set(runId, r);
  }
  return r;
}

function checkComplete(runId: string, r: Round): void {
  if (r.completed || r.target === undefined || r.received < r.target) return;
  r.completed = true;
  send({ type: 'complete', runId, lastAt: r.lastAt });
}

interface Notification {
  channel?: unknown;
  offset?: unknown;
  data?: { runId?: unknown; sentAt?: unknown };
}

function onEvent(stream: Stream, event: string, data: string, receivedAt: number, onSubscribed: () => void): void {
  if (event === 'subscribed') {
    onSubscribed();
    return;
  }
  if (event !== 'notification') {
    counters.unexpected[event] = (counters.unexpected[event] ?? 0) + 1;
    return;
  }
  let m: Notification;
  try {
    m = JSON.parse(data) as Notification;
  } catch {
    counters.unexpected['unparsable'] = (counters.unexpected['unparsable'] ?? 0) + 1;
    return;
  }
  const runId = m.data?.runId;
  const sentAt = m.data?.sentAt;
  if (typeof runId !== 'string' || typeof sentAt !== 'number' || typeof m.offset !== 'number' || m.channel !== stream.channel) {
    counters.unexpected['notification (not a round)'] = (counters.unexpected['notification (not a round)'] ?? 0) + 1;
    return;
  }
  if (m.offset <= stream.lastOffset) counters.outOfOrder++;
  stream.lastOffset = Math.max(stream.lastOffset, m.offset);
  if (stream.runs.has(runId)) {
    counters.duplicates++;
    return;
  }
  stream.runs.add(runId);
  receipts.push({ stream: stream.index, runId, channel: stream.channel, offset: m.offset, sentAt, receivedAt });
  const r = round(runId);
  r.received++;
  r.lastAt = Math.max(r.lastAt, receivedAt);
  checkComplete(runId, r);
}

/** Opens one stream; resolves once its `subscribed` event has arrived. */
function openStream(url: string, index: number, channel: string, token: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const target = `${url}?channels=${encodeURIComponent(channel)}&token=${encodeURIComponent(token)}`;
    const req = http.get(target, { agent: false, headers: { accept: 'text/event-stream', 'user-agent': 'realtime-bench' } });
    let settle: (() => void) | undefined;
    const closed = new Promise<void>((r) => (settle = r));
    const stream: Stream = { index, channel, req, closed, lastOffset: -1, runs: new Set() };
    let subscribed = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`stream ${String(index)} (${channel}): no \`subscribed\` within ${String(OPEN_TIMEOUT_MS)} ms`));
    }, OPEN_TIMEOUT_MS);
    // Its own socket (no agent): the socket's close is the stream's end, whichever side ends it.
    req.once('socket', (socket) => socket.once('close', onClose));
    const onClose = (): void => {
      settle?.();
      if (!subscribed) {
        clearTimeout(timer);
        reject(new Error(`stream ${String(index)} (${channel}) closed before \`subscribed\``));
      } else if (!closing && !exiting) {
        counters.endedEarly++;
      }
    };
    req.on('error', () => undefined); // reported through `close`
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.once('end', () => {
          clearTimeout(timer);
          reject(new Error(`stream ${String(index)} (${channel}): HTTP ${String(res.statusCode)} ${body}`));
        });
        return;
      }
      const parser = new SseParser();
      res.setEncoding('utf8');
      res.on('error', () => undefined);
      res.on('data', (chunk: string) => {
        const receivedAt = Date.now();
        for (const item of parser.feed(chunk)) {
          if (item.kind === 'comment') {
            if (item.text === 'heartbeat') counters.heartbeats++;
            continue;
          }
          if (item.kind !== 'event') continue;
          onEvent(stream, item.message.event, item.message.data, receivedAt, () => {
            if (subscribed) return;
            subscribed = true;
            clearTimeout(timer);
            resolve(stream);
          });
        }
      });
    });
  });
}

async function open(message: Extract<ToSseClients, { type: 'open' }>): Promise<void> {
  const started = Date.now();
  streams = [];
  receipts = [];
  rounds = new Map();
  counters = freshCounters();
  closing = false;
  // Clients arrive over time: spread evenly, the streams' polls do not run in lock-step.
  const n = message.streams.length;
  await Promise.all(
    message.streams.map(async ({ channel, token }, index) => {
      await new Promise((r) => setTimeout(r, (index * message.spreadMs) / n));
      streams[index] = await openStream(message.url, index, channel, token);
    }),
  );
  counters.streams = streams.length;
  send({ type: 'opened', streams: streams.length, ms: Date.now() - started });
}

async function close(): Promise<void> {
  const started = Date.now();
  closing = true;
  for (const s of streams) s.req.destroy();
  await Promise.all(streams.map((s) => s.closed));
  send({ type: 'closed', closed: streams.length, ms: Date.now() - started });
}

process.on('message', (raw: ToSseClients) => {
  switch (raw.type) {
    case 'open':
      open(raw).catch(fail);
      return;
    case 'expect': {
      const r = round(raw.runId);
      r.target = raw.n;
      send({ type: 'expecting', runId: raw.runId });
      checkComplete(raw.runId, r);
      return;
    }
    case 'receipts':
      send({ type: 'receipts', receipts, counters });
      return;
    case 'close':
      close().catch(fail);
      return;
    case 'exit':
      exiting = true;
      for (const s of streams) s.req.destroy();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 50);
      return;
  }
});

// The benchmark went away: do not linger.
process.on('disconnect', () => {
  if (!exiting) {
    exiting = true;
    for (const s of streams) s.req.destroy();
    process.exit(1);
  }
});
