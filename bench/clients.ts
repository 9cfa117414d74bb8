/**
 * The benchmark's WebSocket clients, in their own process (spawned by bench/run.ts with an IPC
 * channel): 10,000 client sockets and the runtime's 10,000 server sockets do not fit in one
 * process's file descriptors. Every client is the same user; each subscribes to one channel and
 * records when it first receives each run's message (by the `runId` carried in its data).
 */
import WebSocket from 'ws';
import type { FromClients, RunReport, ToClients } from './protocol.ts';
import { childIpc } from './ipc.ts';

const CONNECT_ATTEMPTS = 3;
const ACK_TIMEOUT_MS = 60_000;

interface Client {
  ws: WebSocket;
  ack: ((reply: { event: string; message?: string }) => void) | undefined;
}

interface RunState {
  /** Copies received per client index. */
  copies: Uint16Array;
  received: number;
  total: number;
  duplicated: number;
  firstAt: number;
  lastAt: number;
  offsets: Set<number>;
  target: number | undefined;
  completed: boolean;
}

const clients: Client[] = [];
const runs = new Map<string, RunState>();
let channel = '';
let unexpected = 0;
let closed = 0;
let exiting = false;

const { send, fail } = childIpc<FromClients>('bench/clients.ts');

function runState(runId: string): RunState {
  let run = runs.get(runId);
  if (!run) {
    run = {
      copies: new Uint16Array(clients.length),
      received: 0,
      total: 0,
      duplicated: 0,
      firstAt: 0,
      lastAt: 0,
      offsets: new Set(),
      target: undefined,
      completed: false,
    };
    runs.set(runId, run);
  }
  return run;
}

function checkComplete(runId: string, run: RunState): void {
  if (run.completed || run.target === undefined || run.received < run.target) return;
  run.completed = true;
  send({ type: 'complete', runId, offset: [...run.offsets][0] ?? -1, firstAt: run.firstAt, lastAt: run.lastAt });
}

function onMessage(index: number, data: WebSocket.RawData): void {
  const now = Date.now();
  let m: { event?: unknown; channel?: unknown; offset?: unknown; data?: { runId?: unknown }; message?: unknown };
  try {
    m = JSON.parse(data.toString()) as typeof m;
  } catch {
    unexpected++;
    return;
  }
  if (m.event === 'notification' && m.channel === channel && typeof m.data?.runId === 'string') {
    const runId = m.data.runId;
    const run = runState(runId);
    if (typeof m.offset === 'number') run.offsets.add(m.offset);
    if (index >= run.copies.length) {
      const grown = new Uint16Array(clients.length);
      grown.set(run.copies);
      run.copies = grown;
    }
    const copies = ++run.copies[index]!;
    run.total++;
    if (copies === 1) {
      run.received++;
      if (run.firstAt === 0) run.firstAt = now;
      run.lastAt = now;
      checkComplete(runId, run);
    } else if (copies === 2) {
      run.duplicated++;
    }
    return;
  }
  const client = clients[index];
  if ((m.event === 'subscribed' || m.event === 'error') && client?.ack) {
    client.ack({ event: m.event, ...(typeof m.message === 'string' ? { message: m.message } : {}) });
    return;
  }
  unexpected++;
}

function open(url: string, index: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, headers: { 'user-agent': 'realtime-bench' } });
    ws.on('message', (data) => onMessage(index, data));
    ws.once('open', () => {
      ws.on('close', () => {
        if (!exiting) closed++;
      });
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(new Error(`upgrade refused: HTTP ${String(res.statusCode)}`));
    });
    ws.on('error', (error) => reject(error));
  });
}

async function connectAndSubscribe(url: string, index: number): Promise<void> {
  let ws: WebSocket | undefined;
  let lastError: unknown;
  for (let attempt = 1; attempt <= CONNECT_ATTEMPTS && !ws; attempt++) {
    try {
      ws = await open(url, index);
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
  if (!ws) throw new Error(`client ${String(index)} could not connect: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  const client: Client = { ws, ack: undefined };
  clients[index] = client;
  const reply = await new Promise<{ event: string; message?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${String(index)}: no subscribe ack within ${String(ACK_TIMEOUT_MS)} ms`)), ACK_TIMEOUT_MS);
    client.ack = (r) => {
      clearTimeout(timer);
      client.ack = undefined;
      resolve(r);
    };
    ws.send(JSON.stringify({ action: 'subscribe', channel, requestId: `s${String(index)}` }));
  });
  if (reply.event !== 'subscribed') throw new Error(`client ${String(index)}: subscribe refused: ${reply.message ?? reply.event}`);
}

/** Keeps at most `window` clients connecting/subscribing at once until `target` are subscribed. */
async function grow(message: Extract<ToClients, { type: 'grow' }>): Promise<void> {
  const started = Date.now();
  channel = message.channel;
  const url = `${message.url}/?token=${encodeURIComponent(message.token)}`;
  let next = clients.length;
  let subscribed = clients.length;
  let lastProgress = Date.now();
  const worker = async (): Promise<void> => {
    while (next < message.target) {
      const index = next++;
      await connectAndSubscribe(url, index);
      subscribed++;
      if (Date.now() - lastProgress >= 2000 || subscribed === message.target) {
        lastProgress = Date.now();
        send({ type: 'progress', subscribed, target: message.target });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(message.window, message.target - next)) }, worker));
  send({ type: 'grown', subscribed: clients.length, ms: Date.now() - started });
}

function report(runId: string): RunReport {
  const run = runs.get(runId);
  return {
    runId,
    clients: clients.length,
    received: run?.received ?? 0,
    copies: run?.total ?? 0,
    duplicated: run?.duplicated ?? 0,
    offsets: [...(run?.offsets ?? [])].sort((a, b) => a - b),
    firstAt: run?.firstAt ?? 0,
    lastAt: run?.lastAt ?? 0,
    unexpected,
    closed,
  };
}

function exit(): void {
  exiting = true;
  for (const c of clients) c.ws.terminate();
  process.disconnect?.();
  // Let the terminations go out, then leave.
  setTimeout(() => process.exit(0), 50);
}

process.on('message', (raw: ToClients) => {
  switch (raw.type) {
    case 'grow':
      grow(raw).catch(fail);
      return;
    case 'expect': {
      const run = runState(raw.runId);
      run.target = raw.n;
      send({ type: 'expecting', runId: raw.runId });
      checkComplete(raw.runId, run);
      return;
    }
    case 'report':
      send({ type: 'report', ...report(raw.runId) });
      return;
    case 'exit':
      exit();
      return;
  }
});

// The benchmark went away: do not linger.
process.on('disconnect', () => {
  if (!exiting) {
    exiting = true;
    for (const c of clients) c.ws.terminate();
    process.exit(1);
  }
});
