import type { RealtimeError } from './errors.ts';
import type { ErrorMessage } from './messages.ts';
import { isoNow } from './time.ts';

/** The wire form of a coded error. */
export function errorMessage(error: RealtimeError, now: number, requestId?: string): ErrorMessage {
  const message: ErrorMessage = { event: 'error', code: error.code, message: error.message, timestamp: isoNow(now) };
  if (requestId !== undefined) message.requestId = requestId;
  if (error.channel !== undefined) message.channel = error.channel;
  if (error.retryAfterMs !== undefined) message.retryAfterMs = error.retryAfterMs;
  return message;
}
