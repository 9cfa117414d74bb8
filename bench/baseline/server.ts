/**
 * The seed's design (/work/shared/seed/), minimally and faithfully, as the benchmarks' baseline.
 * It lives only in bench/ and is not part of the product.
 *
 * - Socket.IO with `@socket.io/redis-adapter` (a publisher and a subscriber connection), both
 *   transports offered, pingInterval 25 s and pingTimeout 60 s, as the seed sets them;
 * - a JWT middleware on the handshake (`socket.handshake.auth.token`, HS256; the seed calls
 *   `jsonwebtoken.verify`, this uses `jose`, which the product already has): `socket.data.userId`;
 * - `subscribe:job` `{ jobId }` joins the room `jobs.{jobId}`; the seed's `canAccessJob` is the
 *   owner rule (the first update fixes the owner), and `PERMISSION_DENIED` is emitted otherwise.
 *   The seed replies with nothing; an acknowledgement callback, when the client passes one, is
 *   called after the join, so the benchmark knows when a subscription is in place;
 * - workers PUBLISH a JSON `JobUpdateEvent` to the Redis channel `job-updates`; a third Redis
 *   connection subscribes and emits `job:update` to the room (`io.to(room).emit`, which the
 *   adapter also publishes to the other nodes).
 *
 * Left out, because the benchmark does not exercise them: the seed's "current job status" read
 * from its database on subscribe (there is none here), presence, rate limiting, metrics, logs.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';

export const JOB_UPDATES_CHANNEL = 'job-updates';

/** The seed's JobUpdateEvent. */
export interface JobUpdateEvent {
  type: 'job.update';
  jobId: string;
  /** The seed resolves the owner through canAccessJob; workers here name it, as ours do. */
  userId: string;
  status: string;
  progress?: number;
  message?: string;
  timestamp: string;
}

export interface BaselineServer {
  url: string;
  io: Server;
  /** Sockets connected now. */
  connections(): number;
  close(): Promise<void>;
}

export async function startBaselineServer(options: { redisUrl: string; jwtSecret: string; port?: number }): Promise<BaselineServer> {
  const key = new TextEncoder().encode(options.jwtSecret);
  const pub = new Redis(options.redisUrl);
  const sub = pub.duplicate();
  const jobs = pub.duplicate();
  const http: HttpServer = createServer();
  const io = new Server(http, {
    transports: ['websocket', 'polling'],
    pingTimeout: 60_000,
    pingInterval: 25_000,
  });
  io.adapter(createAdapter(pub, sub));

  io.use((socket, next) => {
    const token: unknown = socket.handshake.auth['token'];
    if (typeof token !== 'string') return next(new Error('Authentication failed'));
    jwtVerify(token, key, { algorithms: ['HS256'] }).then(
      ({ payload }) => {
        if (!payload.sub) return next(new Error('Authentication failed'));
        socket.data.userId = payload.sub;
        next();
      },
      () => next(new Error('Authentication failed')),
    );
  });

  // The seed's ConnectionManager: userId → socket ids, socket id → userId.
  const byUser = new Map<string, Set<string>>();
  const owners = new Map<string, string>();
  io.on('connection', (socket) => {
    const userId = socket.data.userId as string;
    let set = byUser.get(userId);
    if (!set) byUser.set(userId, (set = new Set()));
    set.add(socket.id);
    socket.on('subscribe:job', (payload: { jobId?: unknown } | undefined, ack?: (reply: { ok: boolean; code?: string }) => void) => {
      const jobId = payload?.jobId;
      if (typeof jobId !== 'string') return;
      const owner = owners.get(jobId);
      if (owner !== undefined && owner !== userId) {
        socket.emit('error', { code: 'PERMISSION_DENIED', message: 'Cannot access job' });
        ack?.({ ok: false, code: 'PERMISSION_DENIED' });
        return;
      }
      void socket.join(`jobs.${jobId}`);
      ack?.({ ok: true });
    });
    socket.on('disconnect', () => {
      const sockets = byUser.get(userId);
      sockets?.delete(socket.id);
      if (sockets?.size === 0) byUser.delete(userId);
    });
  });

  await jobs.subscribe(JOB_UPDATES_CHANNEL);
  jobs.on('message', (_channel: string, message: string) => {
    let event: JobUpdateEvent;
    try {
      event = JSON.parse(message) as JobUpdateEvent;
    } catch {
      return;
    }
    if (!owners.has(event.jobId)) owners.set(event.jobId, event.userId);
    io.to(`jobs.${event.jobId}`).emit('job:update', event);
  });

  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    io,
    connections: () => io.engine.clientsCount,
    async close() {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      for (const r of [jobs, sub, pub]) r.disconnect();
    },
  };
}
