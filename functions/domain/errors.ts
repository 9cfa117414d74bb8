/**
 * Errors that reach a client are values with a stable code. Every other failure is INTERNAL
 * and its details stay in the logs.
 */
export const ErrorCode = {
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  RATE_LIMIT_EXCEEDED: 'RATE_LIMIT_EXCEEDED',
  CHANNEL_NOT_FOUND: 'CHANNEL_NOT_FOUND',
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** Presence (Redis) cannot be reached; everything else keeps working. */
  PRESENCE_UNAVAILABLE: 'PRESENCE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Whether a client may retry the same request and expect a different answer. */
const TEMPORARY: ReadonlySet<ErrorCode> = new Set([ErrorCode.RATE_LIMIT_EXCEEDED, ErrorCode.PRESENCE_UNAVAILABLE, ErrorCode.INTERNAL]);

export interface RealtimeErrorOptions {
  channel?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

export class RealtimeError extends Error {
  readonly code: ErrorCode;
  readonly channel?: string;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, options: RealtimeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RealtimeError';
    this.code = code;
    if (options.channel !== undefined) this.channel = options.channel;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  get temporary(): boolean {
    return TEMPORARY.has(this.code);
  }
}

export const invalidMessage = (message: string): RealtimeError =>
  new RealtimeError(ErrorCode.INVALID_MESSAGE, message);
export const channelNotFound = (channel: string): RealtimeError =>
  new RealtimeError(ErrorCode.CHANNEL_NOT_FOUND, 'Unknown channel name', { channel });
export const permissionDenied = (channel: string, message = 'Not allowed on this channel'): RealtimeError =>
  new RealtimeError(ErrorCode.PERMISSION_DENIED, message, { channel });

/** Thrown by a token verifier; never carries the token itself. */
export class AuthError extends Error {
  /** `unauthorized` maps to 401 (no or unreadable credentials), `forbidden` to 403. */
  readonly kind: 'unauthorized' | 'forbidden';
  readonly reason: string;

  constructor(kind: 'unauthorized' | 'forbidden', reason: string, options?: { cause?: unknown }) {
    super(`Authentication failed: ${reason}`, options);
    this.name = 'AuthError';
    this.kind = kind;
    this.reason = reason;
  }
}

/**
 * A server-sent event field that would break the stream's framing: a line break in `event` or
 * `id` (or NUL in `id`, which clients ignore). A programming error, never a client's.
 */
export class SseFieldError extends Error {
  readonly field: string;

  constructor(field: string) {
    super(`An SSE ${field} must not contain a line break${field === 'id' ? ' or NUL' : ''}`);
    this.name = 'SseFieldError';
    this.field = field;
  }
}
