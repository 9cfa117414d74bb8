/**
 * The server-sent events wire format (WHATWG HTML, "Server-sent events"): fields are lines of
 * `name: value`, an event ends with a blank line, a line starting with `:` is a comment.
 *
 * `event` and `id` are single lines: a line break in them would let the value forge other
 * fields or events, so they are refused (SseFieldError), never escaped. `data` may hold several
 * lines: each becomes its own `data:` line and the client joins them back with `\n`.
 */
import { SseFieldError } from './errors.ts';

export interface SseEvent {
  /** The event name (`job:update`); the client's default is `message`. */
  event?: string;
  /** Becomes the client's last event id, sent back as `Last-Event-ID` on reconnect. */
  id?: string;
  data?: string;
  /** Reconnection delay hint, milliseconds. */
  retry?: number;
}

const LINE_BREAK = /[\r\n]/;
const ANY_LINE_BREAK = /\r\n|\r|\n/;

/** One event, ending with the blank line that dispatches it. */
export function formatEvent(event: SseEvent): string {
  let out = '';
  if (event.event !== undefined) {
    if (LINE_BREAK.test(event.event)) throw new SseFieldError('event');
    out += `event: ${event.event}\n`;
  }
  if (event.id !== undefined) {
    if (LINE_BREAK.test(event.id) || event.id.includes('\0')) throw new SseFieldError('id');
    out += `id: ${event.id}\n`;
  }
  if (event.retry !== undefined) out += retryField(event.retry);
  if (event.data !== undefined) {
    for (const line of event.data.split(ANY_LINE_BREAK)) out += `data: ${line}\n`;
  }
  return `${out}\n`;
}

/** A comment (ignored by clients; keeps proxies and load balancers from timing out). */
export function formatComment(text: string): string {
  return `${text
    .split(ANY_LINE_BREAK)
    .map((line) => `: ${line}`)
    .join('\n')}\n\n`;
}

/** A reconnection delay hint on its own. */
export function formatRetry(ms: number): string {
  return `${retryField(ms)}\n`;
}

function retryField(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError('retry must be a non-negative integer of milliseconds');
  return `retry: ${String(ms)}\n`;
}
