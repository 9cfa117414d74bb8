/**
 * The IPC messages between the benchmark (bench/run.ts, which hosts the local runtime) and its
 * client process (bench/clients.ts, which holds the WebSocket clients). Timestamps are
 * `Date.now()` values: both processes read the same wall clock.
 */

export type ToClients =
  /** Open connections (as one user) and subscribe each to `channel` until `target` are subscribed. */
  | { type: 'grow'; url: string; token: string; channel: string; target: number; window: number }
  /** A run is about to be published: report `complete` once `n` distinct clients have its `runId`. */
  | { type: 'expect'; runId: string; n: number }
  /** The counts for one run (sent after the events queue has drained). */
  | { type: 'report'; runId: string }
  /** Close every socket and exit. */
  | { type: 'exit' };

export type FromClients =
  | { type: 'progress'; subscribed: number; target: number }
  | { type: 'grown'; subscribed: number; ms: number }
  | { type: 'expecting'; runId: string }
  | { type: 'complete'; runId: string; offset: number; firstAt: number; lastAt: number }
  | ({ type: 'report' } & RunReport)
  | { type: 'error'; message: string };

export interface RunReport {
  runId: string;
  /** Clients at the time of the report. */
  clients: number;
  /** Distinct clients that received the run's message. */
  received: number;
  /** Copies received in all (received + duplicates). */
  copies: number;
  /** Clients that received it more than once. */
  duplicated: number;
  /** Offsets the run's message carried (one expected). */
  offsets: number[];
  /** First and last first-receipt times (0 when none). */
  firstAt: number;
  lastAt: number;
  /** Messages that were neither acks nor a run's notification, since the client process started. */
  unexpected: number;
  /** Sockets that closed, since the client process started. */
  closed: number;
}

// ---------------------------------------------------------------------------------------------
// The presence storm (bench/presence-storm.ts and its client process, bench/storm-clients.ts).
// Send and receipt times are the child's own `performance.now()`: latencies never mix clocks.

export type ToStormClients =
  /** Connect one socket per user, subscribe each to `presence.{documentId}`, wait for every snapshot. */
  | { type: 'join'; url: string; documentId: string; users: { userId: string; token: string }[] }
  /** Every user sends `ratePerSecond` cursor updates a second for `durationMs`, staggered evenly. */
  | { type: 'storm'; durationMs: number; ratePerSecond: number }
  /** The counts, once no update has arrived for `quietMs` (or after `maxWaitMs`). */
  | { type: 'report'; quietMs: number; maxWaitMs: number }
  | { type: 'exit' };

export type FromStormClients =
  | { type: 'joined'; clients: number; ms: number }
  /** Every update has been sent. */
  | { type: 'sent'; sent: number; ms: number; maxSlipMs: number }
  | ({ type: 'report' } & StormReport)
  | { type: 'error'; message: string };

export interface StormReport {
  senders: number;
  /** Updates sent (all senders). */
  sent: number;
  /** `presence:update` messages received that match a sent update (deliveries). */
  deliveries: number;
  /** Sent updates that reached at least one other client, and every other client. */
  relayed: number;
  relayedToAll: number;
  /** Second and later copies of one update at one client. */
  duplicates: number;
  /** Updates that came back to their own sender. */
  echoes: number;
  /** `presence:update` messages that match no sent update. */
  unmatched: number;
  /** `error` messages by code, plus API Gateway's "Internal server error" (a failed invocation). */
  errors: Record<string, number>;
  /** Latency percentiles (ms), send → receipt. */
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** The same, by the second (0-based) of the storm in which the update was sent. */
  latencyBySendSecond: { second: number; sent: number; deliveries: number; p50: number; p99: number; max: number }[];
  /** Deliveries by the second (0-based, from the first send) in which they arrived. */
  deliveriesByReceiptSecond: number[];
  /** From the first send: the last send, the first and the last receipt (ms). */
  lastSentMs: number;
  firstReceiptMs: number;
  lastReceiptMs: number;
  /** Largest delay of a send behind its schedule (ms): whether the senders kept the pace. */
  maxSlipMs: number;
}

// ---------------------------------------------------------------------------------------------
// Publish-to-SSE latency (bench/sse.ts and its client process, bench/sse-clients.ts).
// Publish times are the bench's `Date.now()` just before each PutEvents call, carried in the
// notification's data (`sentAt`); receipt times are the child's `Date.now()` when the chunk
// arrived: both processes read the same wall clock.

export type ToSseClients =
  /** Open one stream per entry (`GET {url}?channels={channel}&token={token}`), their starts
   * spread evenly over `spreadMs`, and answer once every stream has its `subscribed` event. */
  | { type: 'open'; url: string; streams: { channel: string; token: string }[]; spreadMs: number }
  /** A round is about to be published: answer `complete` once `n` distinct streams have it. */
  | { type: 'expect'; runId: string; n: number }
  /** Every receipt since the streams were opened, and the counters. */
  | { type: 'receipts' }
  /** Close every stream (the client goes away) and answer once each socket has closed. */
  | { type: 'close' }
  | { type: 'exit' };

export type FromSseClients =
  | { type: 'opened'; streams: number; ms: number }
  | { type: 'expecting'; runId: string }
  | { type: 'complete'; runId: string; lastAt: number }
  | { type: 'receipts'; receipts: SseReceipt[]; counters: SseClientCounters }
  | { type: 'closed'; closed: number; ms: number }
  | { type: 'error'; message: string };

/** The first copy of one round's notification on one stream. */
export interface SseReceipt {
  stream: number;
  runId: string;
  channel: string;
  offset: number;
  /** The bench's Date.now() just before the PutEvents call that carried it. */
  sentAt: number;
  /** The child's Date.now() when the chunk holding it arrived. */
  receivedAt: number;
}

export interface SseClientCounters {
  streams: number;
  /** A round's notification received again on the same stream. */
  duplicates: number;
  /** A notification whose offset was not above the last one on its stream. */
  outOfOrder: number;
  /** Events other than `subscribed` and the rounds' notifications, by event name. */
  unexpected: Record<string, number>;
  /** `: heartbeat` comments received. */
  heartbeats: number;
  /** Streams the server ended (or that failed) before the bench closed them. */
  endedEarly: number;
}

// ---------------------------------------------------------------------------------------------
// Side by side with the seed's design (bench/compare.ts): a server process (bench/compare-server.ts)
// hosting either the local runtime or the Socket.IO baseline, and a client process
// (bench/compare-clients.ts) with plain WebSocket or socket.io-client clients. Publish times are
// the bench's `performance.timeOrigin + performance.now()`, carried in the job update's
// `message`; receipt times the child's, by the same formula: one wall clock, sub-millisecond.

export type ServerKind = 'runtime' | 'baseline';

export type ToServer =
  | { type: 'start'; kind: ServerKind; redisUrl: string }
  /** Collect garbage, then answer with the process's memory. */
  | { type: 'memory' }
  | { type: 'exit' };

export type FromServer =
  /** `url`: HTTP (EventBridge for the runtime, Socket.IO for the baseline); `wsUrl` for WebSocket clients. */
  | { type: 'started'; url: string; wsUrl: string }
  | { type: 'memory'; rss: number; heapUsed: number; external: number; arrayBuffers: number; connections: number }
  | { type: 'error'; message: string };

export type ToCompareClients =
  /** Add one client per job id (client i subscribes to `jobs.{jobIds[i]}`), `window` at a time. */
  | { type: 'connect'; kind: ServerKind; url: string; token: string; jobIds: string[]; window: number }
  /** Answer `complete` once `n` receipts of `runId` have arrived. */
  | { type: 'expect'; runId: string; n: number }
  /** The latencies of one run, and its counters. */
  | { type: 'latencies'; runId: string }
  /** Close every client; answer once they are closed. */
  | { type: 'close' }
  | { type: 'exit' };

export type FromCompareClients =
  | { type: 'progress'; connected: number; target: number }
  | { type: 'connected'; clients: number; ms: number }
  | { type: 'expecting'; runId: string }
  | { type: 'complete'; runId: string }
  | { type: 'latencies'; runId: string; latencies: number[]; duplicates: number; unexpected: number; closed: number }
  | { type: 'closed'; ms: number }
  | { type: 'error'; message: string };
