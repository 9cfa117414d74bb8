/**
 * The ioredis client behind the Redis adapters (presence, rate limiting), and the error
 * mapping they share.
 *
 * `createRedisClient(url)` builds a client suited to Lambda and to the local runtime:
 *   - `redis://host:port` or `rediss://host:port` (TLS), optional `user:password@` and `/db`;
 *   - `?cluster=true` (or `options.cluster`) builds a `Cluster` client, which ElastiCache
 *     Serverless needs (it speaks the cluster protocol, always with TLS);
 *   - an unreachable Redis fails fast: no offline queue, one retry per request, short connect
 *     and command timeouts, so callers answer PRESENCE_UNAVAILABLE within about a second;
 *   - meanwhile the client keeps reconnecting in the background (delay capped at 2 s), so
 *     presence recovers by itself when Redis is back.
 *
 * Without an offline queue a command sent while the first connection is still being made
 * would fail at once (every cold start would lose its first presence call); `callRedis`
 * therefore waits, briefly, for a connection attempt that is in progress (or starts the lazy
 * one), and never waits while the client is merely between reconnection attempts.
 */
import { Cluster, Redis, ReplyError, type ClusterOptions, type RedisOptions } from 'ioredis';
import { PresenceUnavailableError } from '../../domain/ports.ts';

export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** Cluster mode; also `?cluster=true` in the URL. ElastiCache Serverless needs it. */
  cluster?: boolean;
  /** How long one connection attempt may take (default 1000 ms). */
  connectTimeoutMs?: number;
  /** How long a command may wait for its reply (default 1000 ms). */
  commandTimeoutMs?: number;
  /** Upper bound of the delay between reconnection attempts (default 2000 ms). */
  maxReconnectDelayMs?: number;
  /** Shown by CLIENT LIST, e.g. the function name. */
  connectionName?: string;
  /** Connect on the first command instead of at once (default true, see below). */
  lazyConnect?: boolean;
  /** Receives the client's `error` events (connection losses, mostly); ignored by default
   * because every failed command already surfaces as PresenceUnavailableError. */
  onError?: (error: Error) => void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 2_000;

export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisClient {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`Unsupported Redis URL scheme ${parsed.protocol} (redis: or rediss:)`);
  }
  const tls = parsed.protocol === 'rediss:';
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  const port = parsed.port ? Number(parsed.port) : 6379;
  const clusterParam = parsed.searchParams.get('cluster');
  const cluster = options.cluster ?? (clusterParam === 'true' || clusterParam === '1');
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined;
  if (db !== undefined && (!Number.isInteger(db) || cluster)) {
    throw new Error(`Invalid Redis database in ${parsed.pathname}${cluster ? ' (a cluster has only db 0)' : ''}`);
  }
  const maxDelay = options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  // Exponential from 50 ms, capped, with jitter so that many Lambdas do not reconnect in step.
  // Never gives up (a number is always returned): presence must come back on its own.
  const reconnectDelay = (times: number): number =>
    Math.min(50 * 2 ** Math.min(times, 10), maxDelay) + Math.floor(Math.random() * 100);

  const connection: RedisOptions = {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    // TLS when the URL says rediss:// (ElastiCache Serverless requires it). The server name
    // defaults to the host, which is what the ElastiCache certificate names.
    ...(tls ? { tls: host ? { servername: host } : {} } : {}),
    // Fail a connection attempt quickly: a Lambda must not hang on an unreachable Redis.
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    // A command whose reply does not come (half-open TCP, black-holed network) fails after
    // this instead of holding the invocation until its own timeout.
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    // One retry on a new connection, then MaxRetriesPerRequestError: fail fast.
    maxRetriesPerRequest: 1,
    // A command that was sent but unanswered when the connection dropped fails instead of
    // being replayed later (a replayed rate-limit take or join would land after the caller gave up).
    autoResendUnfulfilledCommands: false,
    // TCP keep-alive on idle connections (a warm Lambda may not call Redis for minutes), so a
    // connection dropped by the network is noticed and replaced.
    keepAlive: 10_000,
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    // Skip CLIENT SETINFO on connect: one round trip less per cold start, and managed engines
    // do not all accept it.
    disableClientInfo: true,
  };

  let client: RedisClient;
  if (cluster) {
    const clusterOptions: ClusterOptions = {
      // ElastiCache Serverless (and any TLS cluster endpoint): keep the host name, do not
      // resolve it to an IP, or the TLS certificate check fails against the IP.
      dnsLookup: (address, callback) => callback(null, address),
      redisOptions: connection,
      // Commands fail at once while no node is ready (instead of queueing until the timeout).
      enableOfflineQueue: false,
      // Reconnects to the cluster (re-reading its slots) forever, at most every maxDelay.
      clusterRetryStrategy: reconnectDelay,
      // A node that drops is reconnected too (by default the Cluster client waits for a MOVED).
      clusterNodeRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // A command to a node that is down is retried every retryDelayOnFailover ms, and each
      // retry counts against maxRedirections (default 16 x 100 ms = 1.6 s of waiting): keep
      // the total near half a second, enough to follow a MOVED or a quick failover, short
      // enough to fail fast when the node is really gone.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 5,
      // Lambda: connect on first use (a function that never touches presence opens nothing).
      lazyConnect: options.lazyConnect ?? true,
    };
    client = new Cluster([{ host, port }], clusterOptions);
  } else {
    client = new Redis({
      ...connection,
      host,
      port,
      ...(db !== undefined ? { db } : {}),
      // Commands fail at once while disconnected instead of waiting in a queue.
      enableOfflineQueue: false,
      // Reconnect forever in the background, at most every maxDelay.
      retryStrategy: reconnectDelay,
      // See the Cluster branch.
      lazyConnect: options.lazyConnect ?? true,
    });
  }
  // Without a listener ioredis prints every connection error to the console.
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

// ---------------------------------------------------------------------------------------------

/** How long `callRedis` waits for a connection attempt in progress. */
const READY_WAIT_MS = 1_500;

/**
 * Runs `fn`, one or more client calls (keep your own parsing outside it), and maps "Redis
 * cannot be reached" to PresenceUnavailableError with the original error as `cause`:
 * connection refused or lost, offline-queue refusals ("Stream isn't writeable ...", "Cluster
 * isn't ready ..."), "Connection is closed.", "Command timed out", MaxRetriesPerRequestError,
 * ClusterAllFailedError, "Too many Cluster redirections", and the server's transient refusals
 * (LOADING, CLUSTERDOWN, TRYAGAIN, MASTERDOWN, READONLY, BUSY, OOM). Any other error reply (a
 * script bug, WRONGTYPE) and TypeError/RangeError (our bugs) are rethrown as they are: defects,
 * not outages.
 */
export async function callRedis<T>(client: RedisClient, fn: () => Promise<T>): Promise<T> {
  try {
    await settleConnection(client);
    return await fn();
  } catch (error) {
    if (isUnavailableError(error)) throw new PresenceUnavailableError({ cause: error });
    throw error;
  }
}

const TRANSIENT_REPLIES = ['LOADING', 'CLUSTERDOWN', 'TRYAGAIN', 'MASTERDOWN', 'READONLY', 'BUSY', 'OOM'];

/** Whether an error raised by an ioredis call means "no usable answer from Redis". */
export function isUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof PresenceUnavailableError) return false; // already mapped
  if (error instanceof TypeError || error instanceof RangeError) return false;
  if (error instanceof ReplyError || error.name === 'ReplyError') {
    const code = error.message.split(' ', 1)[0] ?? '';
    return TRANSIENT_REPLIES.includes(code);
  }
  // Everything else ioredis raises means it got no proper answer: socket errors (ECONNREFUSED,
  // ECONNRESET, ETIMEDOUT, TLS failures), the offline-queue and closed-connection refusals,
  // timeouts, MaxRetriesPerRequestError (an AbortError), ClusterAllFailedError, redirections.
  return true;
}

/** One wait per client while it connects, shared by every call that arrives meanwhile. */
const connecting = new WeakMap<RedisClient, Promise<void>>();

/** Starts a lazy client, and waits (bounded) while a connection attempt is in progress. */
async function settleConnection(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'wait') {
    // lazyConnect: the first call starts the connection. A failure shows on the command.
    client.connect().catch(() => undefined);
  }
  if (client.status === 'connecting' || client.status === 'connect') {
    let wait = connecting.get(client);
    if (!wait) {
      wait = new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          client.off('ready', done);
          client.off('close', done);
          client.off('end', done);
          connecting.delete(client);
          resolve();
        };
        const timer = setTimeout(done, READY_WAIT_MS);
        client.once('ready', done);
        client.once('close', done);
        client.once('end', done);
      });
      connecting.set(client, wait);
    }
    await wait;
  }
}

/** Registers a Lua script as a custom command (EVALSHA, falling back to EVAL once per
 * connection) and returns a typed caller. Every key the script touches must be in `keys`. */
export function defineScript(
  client: RedisClient,
  name: string,
  lua: string,
  numberOfKeys: number,
): (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown> {
  client.defineCommand(name, { lua, numberOfKeys });
  const command = (client as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[name];
  if (typeof command !== 'function') throw new Error(`ioredis did not define the ${name} command`);
  return (keys, args) => {
    if (keys.length !== numberOfKeys) throw new TypeError(`${name} takes ${String(numberOfKeys)} keys`);
    return command.call(client, ...keys, ...args);
  };
}
