/**
 * Ports: the small interfaces the domain needs from the outside world. Each has a memory
 * adapter and a real adapter (DynamoDB, API Gateway management API, SQS), and one contract
 * suite in test/contract runs against both.
 *
 * Times are epoch milliseconds unless a name says otherwise; `expiresAt` is epoch seconds
 * because that is what DynamoDB TTL reads. Every read ignores items whose `expiresAt` has
 * passed: DynamoDB deletes expired items up to two days late.
 */
import type { DocumentRole } from './authorization.ts';
import type { ChannelMessage, JobStatus, JobUpdateDetail } from './messages.ts';
import type { PresenceCursor, PresenceMember, PresenceSelection } from './presence-types.ts';

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export interface Identity {
  userId: string;
  name?: string;
  picture?: string;
}

export interface TokenVerifier {
  /** Resolves the caller's identity or throws AuthError. */
  verify(token: string): Promise<Identity>;
}

// ---------------------------------------------------------------------------------------------

export interface ConnectionRecord {
  connectionId: string;
  userId: string;
  name?: string;
  picture?: string;
  connectedAt: number;
  sourceIp?: string;
  userAgent?: string;
  expiresAt: number;
}

export interface ConnectionStore {
  put(connection: ConnectionRecord): Promise<void>;
  /** Undefined when absent or expired. */
  get(connectionId: string): Promise<ConnectionRecord | undefined>;
  delete(connectionId: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

export interface Subscription {
  connectionId: string;
  channel: string;
  /** The subscriber, so delivery can re-check authorization without another read. */
  userId: string;
  subscribedAt: number;
  expiresAt: number;
}

export type AddSubscriptionOutcome = 'added' | 'exists' | 'limit';

export interface SubscriberPage {
  items: Subscription[];
  /** Opaque; present when more subscribers may follow. */
  cursor?: string;
}

export interface SubscriptionStore {
  /** Adds the subscription unless it exists or the connection already has `maxPerConnection`. */
  add(subscription: Subscription, maxPerConnection: number): Promise<AddSubscriptionOutcome>;
  /** True when a subscription was removed. */
  remove(connectionId: string, channel: string): Promise<boolean>;
  /** Live (unexpired) subscribers of a channel, a page at a time. */
  listByChannel(channel: string, options: { limit: number; cursor?: string }): Promise<SubscriberPage>;
  listByConnection(connectionId: string): Promise<Subscription[]>;
  /** Removes every subscription of the connection; returns the channels it had. */
  removeConnection(connectionId: string): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------

/** A job's current state; it is also the head of the `jobs.{jobId}` channel. */
export interface JobState {
  jobId: string;
  /** The owner, fixed by the job's first event. */
  userId: string;
  status: JobStatus;
  progress?: number;
  message?: string;
  error?: { code: string; message: string };
  /** The worker's timestamp of the applied update (ISO 8601). */
  timestamp: string;
  sequence?: number;
  /** Offset of the last applied event on `jobs.{jobId}`. */
  offset: number;
  lastEventId: string;
  updatedAt: number;
  expiresAt: number;
}

export interface ChannelHead {
  channel: string;
  offset: number;
  /** For `jobs.*` channels: the job's state (and so its owner). */
  job?: JobState;
}

export type JobApplyOutcome =
  /** Applied: `state.offset` is the new event's offset. */
  | { kind: 'applied'; state: JobState }
  /** This event id was the last one applied (a retry after a crash): `state.offset` is its offset. */
  | { kind: 'already-applied'; state: JobState }
  | { kind: 'stale'; state: JobState }
  | { kind: 'terminal'; state: JobState }
  /** The event names another user than the job's owner; never applied. */
  | { kind: 'owner-mismatch'; state: JobState };

export interface ChannelStore {
  /** Applies a job update atomically under the no-regression rules (see decideJobUpdate). */
  applyJobUpdate(update: JobUpdateDetail, eventId: string, expiresAt: number): Promise<JobApplyOutcome>;
  getJob(jobId: string): Promise<JobState | undefined>;
  /**
   * The current head of each channel (the last offset taken, and for jobs the state), in one
   * read; channels without a live head are absent from the map.
   */
  heads(channels: readonly string[]): Promise<Map<string, ChannelHead>>;
  /** Takes the next offset of a channel that has no state (notifications); idempotent on eventId
   * for the last event, like applyJobUpdate. */
  advance(channel: string, eventId: string, expiresAt: number): Promise<{ offset: number; alreadyApplied: boolean }>;
}

export interface HistoryStore {
  append(channel: string, message: ChannelMessage, expiresAt: number): Promise<void>;
  /** Messages with offset > `after`, ascending, at most `limit`. */
  readAfter(channel: string, after: number, limit: number): Promise<ChannelMessage[]>;
}

/** What an event became once applied: the channel message (with its offset) to publish. */
export interface AssignedEvent {
  message: ChannelMessage;
  /** For jobs: the owner, the only user whose connections may receive it. */
  owner?: string;
  /** When the event was published, for the latency metric. */
  publishedAt?: string;
}

export type ClaimOutcome =
  /** Go ahead. `assigned` is set when an earlier attempt applied the event and then failed:
   * publish that message again (same offset) instead of applying the event a second time. */
  | { status: 'claimed'; assigned?: AssignedEvent }
  /** Processed already. */
  | { status: 'done' }
  /** Another invocation holds the lease. */
  | { status: 'busy' };

/** Remembers which events were processed, so an SQS redelivery never reaches a client twice. */
export interface EventLedger {
  claim(eventId: string, leaseMs: number, expiresAt: number): Promise<ClaimOutcome>;
  /** Records what the claimed event became, before it is published. */
  assign(eventId: string, assigned: AssignedEvent): Promise<void>;
  complete(eventId: string, expiresAt: number): Promise<void>;
  /** Ends the lease now (processing failed) so a redelivery can claim it at once; keeps the assignment. */
  release(eventId: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

export type PostOutcome = 'ok' | 'gone';

/** The API Gateway management API (`@connections`). */
export interface ConnectionGateway {
  /** 'gone' for 410; throws GatewayThrottledError on 429 and other errors as they are. */
  post(connectionId: string, payload: string): Promise<PostOutcome>;
  disconnect(connectionId: string): Promise<void>;
}

export class GatewayThrottledError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('Management API throttled the request', options);
    this.name = 'GatewayThrottledError';
  }
}

/** A slice of a big channel's delivery, handed to another invocation. */
export interface FanoutPageTask {
  kind: 'fanout.page';
  channel: string;
  message: ChannelMessage;
  /** For jobs: only this user's connections receive it. */
  owner?: string;
  cursor: string;
  /** When the event was published, for the latency metric. */
  publishedAt?: string;
}

export interface TaskQueue {
  enqueue(task: FanoutPageTask): Promise<void>;
}

export interface DeadLetterSink {
  /** Parks a message that can never succeed, with the reason, without retrying it. */
  send(body: string, reason: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Presence (Redis on AWS, memory locally by default)

export interface PresenceConnection {
  connectionId: string;
  userId: string;
  name: string;
  avatar?: string;
}

/** Members whose last connection left or expired: each gets a `presence:user-left`. */
export interface PresenceDeparture {
  documentId: string;
  userId: string;
}

export interface PresenceJoin {
  /** The joiner's member (new, or the existing one when another tab of theirs is in). */
  member: PresenceMember;
  /** True when this is the user's first connection in the document (others see a join). */
  joined: boolean;
  /** Every member after the join, the joiner included. */
  members: PresenceMember[];
  /** Members that expired in this document, found on the way. */
  expired: PresenceDeparture[];
}

/**
 * Presence of connections in documents. A member is a user; it stays while any of its
 * connections is present. A connection not heard from for `timeoutMs` (an update or a touch)
 * expires; every call sweeps the documents it touches and reports who expired. Keys expire
 * on their own, so an abandoned document cleans itself up. Throws PresenceUnavailableError
 * when the engine cannot be reached.
 */
export interface PresenceStore {
  join(documentId: string, connection: PresenceConnection): Promise<PresenceJoin>;
  /** Updates the cursor and/or selection (`null` clears it); undefined when the connection is not in the document. */
  update(
    documentId: string,
    connectionId: string,
    patch: { cursor?: PresenceCursor | null; selection?: PresenceSelection | null },
  ): Promise<{ member: PresenceMember; expired: PresenceDeparture[] } | undefined>;
  /** A heartbeat (ping): marks the connection alive in every document it is in. */
  touch(connectionId: string): Promise<{ documentIds: string[]; expired: PresenceDeparture[] }>;
  /** The connection leaves one document; `left` when it was the user's last connection there. */
  leave(documentId: string, connectionId: string): Promise<{ left: PresenceDeparture | undefined; expired: PresenceDeparture[] }>;
  /** The connection leaves every document (disconnect, 410). */
  leaveAll(connectionId: string): Promise<{ left: PresenceDeparture[]; expired: PresenceDeparture[] }>;
  members(documentId: string): Promise<PresenceMember[]>;
  /** Throws when the engine is unreachable (health). */
  ping(): Promise<void>;
}

export class PresenceUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('Presence is unavailable', options);
    this.name = 'PresenceUnavailableError';
  }
}

/** A token bucket per key, shared by every Lambda (Redis on AWS). */
export interface RateLimiter {
  /**
   * Takes one token from `key`'s bucket (`capacity` tokens, refilled at `refillPerSec`).
   * `retryAfterMs` is set when refused: how long until a token is back.
   */
  take(key: string, capacity: number, refillPerSec: number): Promise<{ allowed: boolean; retryAfterMs?: number }>;
}

/**
 * Counted slots per key, shared by every Lambda (Redis on AWS): a user's open connections, a
 * user's subscriptions. A slot is a member with an expiry, so a slot whose release was lost (a
 * `$disconnect` API Gateway never sent) frees itself when its connection could no longer exist.
 * Throws PresenceUnavailableError when the engine cannot be reached, like RateLimiter.
 */
export interface SlotLimiter {
  /**
   * Holds `member` in `key` until `expiresAt` (epoch ms) unless `limit` other live members are
   * held already. A member already held stays held (its expiry is extended): true.
   */
  acquire(key: string, member: string, limit: number, expiresAt: number): Promise<boolean>;
  /** Frees these members of `key` (absent ones are ignored). */
  release(key: string, members: readonly string[]): Promise<void>;
  /** Frees every member of `key` that starts with `prefix` (e.g. all of one connection's). */
  releasePrefix(key: string, prefix: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

export interface DocumentRoleStore {
  roleOf(documentId: string, userId: string): Promise<DocumentRole | undefined>;
  /**
   * Grants, changes (`role`) or revokes (`null`) a user's role, unless a change with a later
   * `changedAt` (epoch ms) was already applied. Returns whether it was applied.
   */
  setRole(documentId: string, userId: string, role: DocumentRole | null, changedAt: number): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------

export type MetricName =
  | 'ConnectionsOpened'
  | 'ConnectionsClosed'
  | 'AuthFailures'
  | 'MessagesReceived'
  | 'InvalidMessages'
  | 'Subscriptions'
  | 'SubscriptionsDenied'
  | 'MessagesDelivered'
  | 'DeliveryFailures'
  | 'DeliveryRetries'
  | 'StaleConnectionsPruned'
  | 'EventsProcessed'
  | 'EventsDuplicate'
  | 'EventsStale'
  | 'EventsMalformed'
  | 'EventsRejected'
  | 'FanoutPagesEnqueued'
  | 'PresenceUpdates'
  | 'PresenceRateLimited'
  | 'PresenceDepartures'
  | 'DocumentEventsPublished'
  | 'PermissionChanges'
  | 'SubscriptionsRevoked'
  | 'SseStreamsOpened'
  | 'SseStreamsClosed'
  | 'SseEventsSent'
  /** Inbound messages refused by the per-connection token bucket. */
  | 'MessagesRateLimited'
  /** Connections closed (DeleteConnection) after too many refused messages. */
  | 'ConnectionsClosedForFlooding'
  /** `$connect` refused by the per-IP or per-user limit. */
  | 'ConnectionsRefused'
  /** `$connect` refused because its Origin is not in CORS_ORIGINS. */
  | 'OriginRefused'
  /** A limit could not be checked (Redis down) and was let through. */
  | 'RateLimitFailOpen';

export interface Metrics {
  count(name: MetricName, value?: number): void;
  /** Milliseconds, e.g. DeliveryLatency from an event's timestamp to the post. */
  timing(name: 'DeliveryLatency', ms: number): void;
}

export type LogAttributes = Record<string, unknown>;
export interface Log {
  debug(message: string, attributes?: LogAttributes): void;
  info(message: string, attributes?: LogAttributes): void;
  warn(message: string, attributes?: LogAttributes): void;
  error(message: string, attributes?: LogAttributes): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
export const nullMetrics: Metrics = { count() {}, timing() {} };
