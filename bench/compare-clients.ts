/**
 * The clients of the comparison (bench/compare.ts), in their own process: plain WebSocket
 * clients (`ws`) for the local runtime, `socket.io-client` over the WebSocket transport only for
 * the baseline. Every client is the same user; client i subscribes to `jobs.{jobIds[i]}` and
 * records, for each job update it receives, the time since its publish (carried in `message`).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { io, type Socket } from 'socket.io-client';
import { childIpc } from './ipc.ts';
import type { FromCompareClients, ServerKind, ToCompareClients } from './protocol.ts';

const ACK_TIMEOUT_MS = 60_000;
const now = (): number => performance.timeOrigin + performance.now();

interface Client {
  close(): void;
}

interface Run {
  latencies: number[];
  seen: Set<string>;
  duplicates: number;
  target: number | undefined;
  completed: boolean;
}

const clients: Client[] = [];
const runs = new Map<string, Run>();
let unexpected = 0;
/** Subscribes answered INTERNAL and sent again (reported on stderr). */
let subscribeRetries = 0;
let closed = 0;
let closing = false;

const { send, fail } = childIpc<FromCompareClients>('bench/compare-clients.ts');

function run(runId: string): Run {
  let r = runs.get(runId);
  if (!r) runs.set(runId, (r = { latencies: [], seen: new Set(), duplicates: 0, target: undefined, completed: false }));
  return r;
}

function check(runId: string, r: Run): void {
  if (!r.completed && r.target !== undefined && r.latencies.length >= r.target) {
    r.completed = true;
    send({ type: 'complete', runId });
  }
}

/** `message` is `{runId}|{seq}|{sentAt}|` padded: see bench/compare.ts. */
function onUpdate(index: number, message: unknown): void {
  const at = now();
  if (typeof message !== 'string') {
    unexpected++;
    return;
  }
  const [runId, seq, sentAt] = message.split('|');
  if (!runId || !seq || !sentAt) {
    unexpected++;
    return;
  }
  const r = run(runId);
  const key = `${String(index)}:${seq}`;
  if (r.seen.has(key)) {
    r.duplicates++;
    return;
  }
  r.seen.add(key);
  r.latencies.push(at - Number(sentAt));
  check(runId, r);
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${String(ACK_TIMEOUT_MS)} ms`)), ACK_TIMEOUT_MS))),
  ]);
}

/** The runtime: connect with the token in the query string, subscribe, wait for `subscribed`. */
function runtimeClient(url: string, token: string, jobId: string, index: number): Promise<Client> {
  return withTimeout(
    new Promise<Client>((resolve, reject) => {
      const ws = new WebSocket(`${url}/?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
      const client: Client = { close: () => ws.terminate() };
      const subscribe = (): void => ws.send(JSON.stringify({ action: 'subscribe', channel: `jobs.${jobId}`, requestId: `s${String(index)}` }));
      // An INTERNAL answer says "try again" (a handler timed out under this load): a client
      // retries it, as the SDK does; anything else fails the run.
      let retries = 0;
      ws.on('message', (data) => {
        let m: { event?: unknown; code?: unknown; requestId?: unknown; message?: unknown; data?: { message?: unknown } };
        try {
          m = JSON.parse(data.toString()) as typeof m;
        } catch {
          unexpected++;
          return;
        }
        if (m.event === 'job:update') onUpdate(index, m.data?.message);
        else if (m.event === 'subscribed' && m.requestId === `s${String(index)}`) resolve(client);
        else if (m.event === 'error' && m.code === 'INTERNAL' && retries < 3) {
          retries++;
          subscribeRetries++;
          process.stderr.write(`client ${String(index)}: subscribe answered INTERNAL, retry ${String(retries)} (${String(subscribeRetries)} in all)\n`);
          setTimeout(subscribe, 250 * retries);
        } else if (m.event === 'error') reject(new Error(`client ${String(index)}: ${String(m.message)}`));
        else unexpected++;
      });
      ws.once('open', () => {
        ws.on('close', () => void (closing || closed++));
        subscribe();
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`client ${String(index)}: upgrade refused, HTTP ${String(res.statusCode)}`));
      });
      ws.on('error', reject);
    }),
    `client ${String(index)}`,
  );
}

/** The baseline: Socket.IO over WebSocket only, the token in `auth`, `subscribe:job` with an ack. */
function baselineClient(url: string, token: string, jobId: string, index: number): Promise<Client> {
  return withTimeout(
    new Promise<Client>((resolve, reject) => {
      const socket: Socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
      const client: Client = { close: () => socket.disconnect() };
      socket.on('job:update', (event: { message?: unknown }) => onUpdate(index, event.message));
      socket.once('connect_error', (error) => reject(new Error(`client ${String(index)}: ${error.message}`)));
      socket.once('connect', () => {
        socket.on('disconnect', () => void (closing || closed++));
        socket.emit('subscribe:job', { jobId }, (reply: { ok: boolean; code?: string }) =>
          reply.ok ? resolve(client) : reject(new Error(`client ${String(index)}: ${reply.code ?? 'refused'}`)),
        );
      });
    }),
    `client ${String(index)}`,
  );
}

async function connect(m: Extract<ToCompareClients, { type: 'connect' }>): Promise<void> {
  const started = Date.now();
  const open = (kind: ServerKind) => (kind === 'runtime' ? runtimeClient : baselineClient);
  const base = clients.length;
  let next = 0;
  let lastProgress = Date.now();
  const worker = async (): Promise<void> => {
    while (next < m.jobIds.length) {
      const i = next++;
      clients[base + i] = await open(m.kind)(m.url, m.token, m.jobIds[i]!, base + i);
      if (Date.now() - lastProgress >= 2000) {
        lastProgress = Date.now();
        send({ type: 'progress', connected: clients.length, target: base + m.jobIds.length });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(m.window, m.jobIds.length)) }, worker));
  send({ type: 'connected', clients: clients.length, ms: Date.now() - started });
}

function closeAll(): void {
  const started = Date.now();
  closing = true;
  for (const c of clients.splice(0)) c.close();
  closing = false;
  send({ type: 'closed', ms: Date.now() - started });
}

process.on('message', (m: ToCompareClients) => {
  switch (m.type) {
    case 'connect':
      connect(m).catch(fail);
      return;
    case 'expect': {
      const r = run(m.runId);
      r.target = m.n;
      send({ type: 'expecting', runId: m.runId });
      check(m.runId, r);
      return;
    }
    case 'latencies': {
      const r = run(m.runId);
      send({ type: 'latencies', runId: m.runId, latencies: r.latencies, duplicates: r.duplicates, unexpected, closed });
      runs.delete(m.runId);
      return;
    }
    case 'close':
      closeAll();
      return;
    case 'exit':
      closing = true;
      for (const c of clients) c.close();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
process.on('disconnect', () => {
  if (!closing) process.exit(1);
});
