/**
 * A real Redis for tests: the `redis-server` binary (Debian's 7.0 here, see
 * /work/shared/TOOLCHAIN.md) on a free port of 127.0.0.1, in memory only (no RDB, no AOF).
 * Never the machine's shared Redis on 6379.
 *
 * `stop()` then `restart()` brings the same server back on the same port (empty), for outage
 * tests. With `{ cluster: true }` it is a single-node Redis Cluster that owns all 16384 slots, so
 * the `Cluster` client (the production path, ElastiCache Serverless) can be exercised too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = '/usr/bin/redis-server';
const READY_TIMEOUT_MS = 10_000;

export interface LocalRedis {
  /** `redis://127.0.0.1:{port}` (with `?cluster=true` for a cluster). */
  url: string;
  port: number;
  /** SIGTERM, then waits for the process to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (after `stop()`); its data is gone. */
  restart(): Promise<void>;
}

/** Every server started by this process, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export async function startRedis(options: { cluster?: boolean } = {}): Promise<LocalRedis> {
  const cluster = options.cluster ?? false;
  const port = await freePort();
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  const start = async (): Promise<void> => {
    // A fresh working directory (and cluster config) on every start: the node forgets its
    // slots, so they are added again.
    dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
    child = await spawnServer(port, dir, cluster);
    if (cluster) {
      await command(port, ['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
      await waitFor(async () => (await command(port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok'));
    }
  };

  await start();
  return {
    url: `redis://127.0.0.1:${String(port)}${cluster ? '?cluster=true' : ''}`,
    port,
    async stop() {
      const current = child;
      child = undefined;
      if (current) await terminate(current);
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
    async restart() {
      if (child) throw new Error('Redis is still running: stop() it first');
      await start();
    },
  };
}

async function spawnServer(port: number, dir: string, cluster: boolean): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  // A lone node does not know its own address until it meets another: announce it, or
  // CLUSTER SLOTS names no host and the Cluster client drops the node.
  if (cluster) {
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'));
    args.push('--cluster-announce-ip', '127.0.0.1');
  }
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < 20_000) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  running.add(child);
  child.once('exit', () => running.delete(child));
  installExitHook();

  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`redis-server exited on start:\n${output}`);
      return (await command(port, ['PING'])) === '+PONG';
    });
  } catch (error) {
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`redis-server on port ${String(port)} did not answer PING: ${String(error)}\n${output}`);
  }
  return child;
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** A port nobody listens on: listen on port 0, read the port, close. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One command over a raw socket (RESP), resolving with the raw reply; rejects when refused. */
function command(port: number, parts: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no reply'));
    }, 1_000);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      socket.write(`*${String(parts.length)}\r\n${parts.map((p) => `$${String(Buffer.byteLength(p))}\r\n${p}\r\n`).join('')}`);
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (isComplete(reply)) {
        clearTimeout(timer);
        socket.end();
        resolve(reply.trimEnd());
      }
    });
  });
}

/** Enough of RESP for PING (simple string), errors and one bulk string (CLUSTER INFO). */
function isComplete(reply: string): boolean {
  if (reply.startsWith('+') || reply.startsWith('-') || reply.startsWith(':')) return reply.endsWith('\r\n');
  if (reply.startsWith('$')) {
    const header = reply.indexOf('\r\n');
    if (header < 0) return false;
    const length = Number(reply.slice(1, header));
    return length < 0 || Buffer.byteLength(reply) >= header + 2 + length + 2;
  }
  return false;
}

async function waitFor(ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  for (;;) {
    try {
      if (await ready()) return;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('redis-server exited')) throw error;
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out (${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
