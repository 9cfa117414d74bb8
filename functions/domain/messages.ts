/**
 * The one set of message schemas, shared by the Lambda handlers, the worker publisher,
 * the local runtime and (later) the SSE writer and the client SDK.
 *
 * zod/mini keeps handler bundles small; unknown fields are stripped (ignored) everywhere.
 */
import * as z from 'zod/mini';

export const LIMITS = {
  /** API Gateway WebSocket message cap; the local runtime closes with 1009 above it. */
  maxFrameBytes: 128 * 1024,
  /** Largest client message body we parse for the core actions. */
  maxClientMessageBytes: 40 * 1024,
  /** Largest `data` of a `publish` (serialized JSON), e.g. an opaque base64 CRDT update. */
  maxPublishDataBytes: 32 * 1024,
  maxRequestIdLength: 128,
  maxChannelLength: 256,
  maxJsonDepth: 32,
  maxSubscriptionsPerConnection: 100,
  /** History kept per channel for recovery (and the 24 h TTL, whichever is smaller). */
  historyMaxMessages: 1000,
  maxJobMessageLength: 1000,
  maxErrorFieldLength: 1000,
} as const;

// ---------------------------------------------------------------------------------------------
// Client to server

const requestId = z.optional(z.string().check(z.minLength(1), z.maxLength(LIMITS.maxRequestIdLength)));
const channelName = z.string().check(z.minLength(1), z.maxLength(LIMITS.maxChannelLength));

export const SubscribeMessage = z.object({
  action: z.literal('subscribe'),
  channel: channelName,
  requestId,
  /** Recovery: the last offset the client has; every later message is replayed first. */
  since: z.optional(z.number().check(z.int(), z.gte(0))),
});
export const UnsubscribeMessage = z.object({
  action: z.literal('unsubscribe'),
  channel: channelName,
  requestId,
});
export const PingMessage = z.object({ action: z.literal('ping'), requestId });

const coordinate = z.number().check(z.gte(-1e7), z.lte(1e7));
const shortId = z.string().check(z.minLength(1), z.maxLength(128));
export const Cursor = z.object({ x: coordinate, y: coordinate });
export const Selection = z.object({
  slideId: shortId,
  elementId: z.optional(shortId),
  range: z.optional(z.object({ start: z.number().check(z.int(), z.gte(0)), end: z.number().check(z.int(), z.gte(0)) })),
});

/** A cursor and/or selection update; `null` clears. */
export const PresenceMessage = z.object({
  action: z.literal('presence'),
  documentId: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,128}$/)),
  cursor: z.optional(z.nullable(Cursor)),
  selection: z.optional(z.nullable(Selection)),
  requestId,
});
export type PresenceMessage = z.infer<typeof PresenceMessage>;

/** A document collaboration event (the channel a CRDT rides on): `data` is opaque. */
export const PublishMessage = z.object({
  action: z.literal('publish'),
  channel: channelName,
  data: z.unknown(),
  requestId,
});

export const ClientMessage = z.discriminatedUnion('action', [
  SubscribeMessage,
  UnsubscribeMessage,
  PingMessage,
  PresenceMessage,
  PublishMessage,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export type SubscribeMessage = z.infer<typeof SubscribeMessage>;
export const CLIENT_ACTIONS = ['subscribe', 'unsubscribe', 'ping', 'presence', 'publish'] as const;

// ---------------------------------------------------------------------------------------------
// Worker events (EventBridge detail), validated by the publisher and again by the fan-out

export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['completed', 'failed', 'cancelled']);
export type JobStatus = (typeof JOB_STATUSES)[number];

const id = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,128}$/));

export const JobUpdateDetail = z.object({
  jobId: id,
  userId: id,
  status: z.enum(JOB_STATUSES),
  progress: z.optional(z.number().check(z.gte(0), z.lte(100))),
  message: z.optional(z.string().check(z.maxLength(LIMITS.maxJobMessageLength))),
  error: z.optional(
    z.object({
      code: z.string().check(z.minLength(1), z.maxLength(128)),
      message: z.string().check(z.maxLength(LIMITS.maxErrorFieldLength)),
    }),
  ),
  timestamp: z.iso.datetime({ offset: true }),
  /** Optional per-job ordering from the worker; when present it orders updates instead of timestamp. */
  sequence: z.optional(z.number().check(z.int(), z.gte(0))),
});
export type JobUpdateDetail = z.infer<typeof JobUpdateDetail>;

/** A personal notification; fields beyond `userId` are the product's own and pass through. */
export const NotificationDetail = z.looseObject({
  userId: id,
  type: z.optional(z.string().check(z.maxLength(128))),
  timestamp: z.optional(z.iso.datetime({ offset: true })),
});
export type NotificationDetail = z.infer<typeof NotificationDetail>;

/** A document role granted, changed or (`role: null`) revoked. */
export const DocumentPermissionDetail = z.object({
  documentId: id,
  userId: id,
  role: z.nullable(z.enum(['owner', 'editor', 'commenter', 'viewer'])),
  /** When the change was made; orders changes (the EventBridge event time when absent). */
  timestamp: z.optional(z.iso.datetime({ offset: true })),
});
export type DocumentPermissionDetail = z.infer<typeof DocumentPermissionDetail>;

export const DETAIL_TYPES = {
  jobUpdate: 'job.update',
  notification: 'user.notification',
  documentPermission: 'document.permission',
} as const;
export const EVENT_SOURCE = 'realtime.workers';

/** The EventBridge envelope as delivered by a rule to SQS. */
export const EventBridgeEvent = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(256)),
  'detail-type': z.string(),
  source: z.string(),
  time: z.optional(z.string()),
  detail: z.unknown(),
});
export type EventBridgeEvent = z.infer<typeof EventBridgeEvent>;

// ---------------------------------------------------------------------------------------------
// Server to client: one envelope with an `event` field

export interface JobUpdateData {
  type: 'job.update';
  jobId: string;
  status: JobStatus;
  progress?: number;
  message?: string;
  error?: { code: string; message: string };
  timestamp: string;
}

export interface PresenceMemberData {
  userId: string;
  name: string;
  avatar?: string;
  color: string;
  cursor?: { x: number; y: number };
  selection?: { slideId: string; elementId?: string; range?: { start: number; end: number } };
  lastSeen: string;
}

export type ServerMessage =
  | { event: 'subscribed'; channel: string; requestId?: string; recovered?: boolean }
  | { event: 'published'; channel: string; offset: number; requestId?: string }
  | { event: 'doc:event'; channel: string; offset: number; userId: string; data: unknown }
  | { event: 'presence:snapshot'; channel: string; members: PresenceMemberData[] }
  | { event: 'presence:user-joined'; channel: string; member: PresenceMemberData }
  | {
      event: 'presence:update';
      channel: string;
      userId: string;
      cursor?: PresenceMemberData['cursor'] | null;
      selection?: PresenceMemberData['selection'] | null;
      lastSeen: string;
    }
  | { event: 'presence:user-left'; channel: string; userId: string }
  | { event: 'unsubscribed'; channel: string; requestId?: string }
  | { event: 'pong'; requestId?: string; timestamp: string }
  | { event: 'job:update'; channel: string; offset: number; data: JobUpdateData }
  | { event: 'notification'; channel: string; offset: number; data: Record<string, unknown> }
  | RecoveryMessage
  | ErrorMessage;

/** SSE only: history no longer covers what the client missed on `channel`; refetch it. */
export interface RecoveryMessage {
  event: 'recovery';
  channel: string;
  recovered: false;
}

export interface ErrorMessage {
  event: 'error';
  code: string;
  message: string;
  requestId?: string;
  channel?: string;
  retryAfterMs?: number;
  timestamp: string;
}

/** A message that carries a channel offset (kept in history, delivered by the fan-out). */
export type ChannelMessage = Extract<ServerMessage, { event: 'job:update' | 'notification' | 'doc:event' }>;

const MemberSchema = z.object({
  userId: z.string(),
  name: z.string(),
  avatar: z.optional(z.string()),
  color: z.string(),
  cursor: z.optional(Cursor),
  selection: z.optional(Selection),
  lastSeen: z.string(),
});

/** Schema of server messages, for clients (SDK, tests) that validate what they receive. */
export const ServerMessageSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('published'), channel: z.string(), offset: z.number(), requestId: z.optional(z.string()) }),
  z.object({ event: z.literal('doc:event'), channel: z.string(), offset: z.number(), userId: z.string(), data: z.unknown() }),
  z.object({ event: z.literal('presence:snapshot'), channel: z.string(), members: z.array(MemberSchema) }),
  z.object({ event: z.literal('presence:user-joined'), channel: z.string(), member: MemberSchema }),
  z.object({
    event: z.literal('presence:update'),
    channel: z.string(),
    userId: z.string(),
    cursor: z.optional(z.nullable(Cursor)),
    selection: z.optional(z.nullable(Selection)),
    lastSeen: z.string(),
  }),
  z.object({ event: z.literal('presence:user-left'), channel: z.string(), userId: z.string() }),
  z.object({ event: z.literal('subscribed'), channel: z.string(), requestId: z.optional(z.string()), recovered: z.optional(z.boolean()) }),
  z.object({ event: z.literal('unsubscribed'), channel: z.string(), requestId: z.optional(z.string()) }),
  z.object({ event: z.literal('pong'), requestId: z.optional(z.string()), timestamp: z.string() }),
  z.object({
    event: z.literal('job:update'),
    channel: z.string(),
    offset: z.number(),
    data: z.object({
      type: z.literal('job.update'),
      jobId: z.string(),
      status: z.enum(JOB_STATUSES),
      progress: z.optional(z.number()),
      message: z.optional(z.string()),
      error: z.optional(z.object({ code: z.string(), message: z.string() })),
      timestamp: z.string(),
    }),
  }),
  z.object({ event: z.literal('notification'), channel: z.string(), offset: z.number(), data: z.record(z.string(), z.unknown()) }),
  z.object({ event: z.literal('recovery'), channel: z.string(), recovered: z.literal(false) }),
  z.object({
    event: z.literal('error'),
    code: z.string(),
    message: z.string(),
    requestId: z.optional(z.string()),
    channel: z.optional(z.string()),
    retryAfterMs: z.optional(z.number()),
    timestamp: z.string(),
  }),
]);

/** Turns zod issues into one short, client-safe sentence (never echoes the input). */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : 'message';
      switch (i.code) {
        case 'too_big':
          return `${where} is too long or too large (max ${String(i.maximum)})`;
        case 'too_small':
          return `${where} is too short or too small (min ${String(i.minimum)})`;
        case 'invalid_type':
          return `${where} must be ${i.expected}`;
        case 'invalid_union':
          return where === 'action' ? `unknown action` : `${where} is not valid`;
        case 'invalid_value':
          return `${where} must be one of ${i.values.map(String).join(', ')}`;
        default:
          return `${where} is not valid`;
      }
    })
    .join('; ');
}
