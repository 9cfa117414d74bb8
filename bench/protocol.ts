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
