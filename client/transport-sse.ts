/**
 * One server-sent events stream (the fallback when WebSocket cannot connect): receive only,
 * every non-presence channel in one request, resumable from a token of every channel's offset.
 */
import { ServerMessageSchema, type ServerMessage } from '../functions/domain/messages.ts';

/** The part of the WHATWG EventSource the SDK uses (browsers' global, or the `eventsource` package). */
export interface EventSourceLike {
  readonly readyState: number;
  close(): void;
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
  onopen: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** Named events the stream sends (`event:` lines); the payload is the WebSocket envelope. */
const EVENTS = ['subscribed', 'job:update', 'notification', 'doc:event', 'recovery', 'error'] as const;
const CLOSED = 2;

export interface SseCallbacks {
  open(connection: SseConnection): void;
  message(message: ServerMessage, connection: SseConnection): void;
  /** The browser gave up on the stream (a refusal, or the server is gone). Called once. */
  closed(connection: SseConnection, info: { opened: boolean }): void;
}

export class SseConnection {
  readonly #source: EventSourceLike | undefined;
  #opened = false;
  #ended = false;

  constructor(
    Ctor: EventSourceConstructor,
    url: string,
    readonly channels: readonly string[],
    private readonly callbacks: SseCallbacks,
  ) {
    let source: EventSourceLike;
    try {
      source = new Ctor(url);
    } catch {
      this.#ended = true;
      queueMicrotask(() => callbacks.closed(this, { opened: false }));
      return;
    }
    this.#source = source;
    source.onopen = () => {
      if (this.#ended) return;
      this.#opened = true;
      callbacks.open(this);
    };
    source.onerror = () => {
      // While CONNECTING the EventSource retries by itself, resuming with Last-Event-ID. CLOSED
      // means it gave up (a non-200 answer such as an expired token): the SDK takes over.
      if (source.readyState === CLOSED) this.close();
    };
    for (const type of EVENTS) {
      source.addEventListener(type, (event) => {
        // The EventSource's own `error` (no data) is handled by onerror above.
        if (this.#ended || typeof event.data !== 'string') return;
        let raw: unknown;
        try {
          raw = JSON.parse(event.data);
        } catch {
          return;
        }
        const parsed = ServerMessageSchema.safeParse(raw);
        if (parsed.success) callbacks.message(parsed.data as ServerMessage, this);
      });
    }
  }

  get isOpen(): boolean {
    return this.#opened && !this.#ended;
  }

  get ended(): boolean {
    return this.#ended;
  }

  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#source) {
      this.#source.onopen = null;
      this.#source.onerror = null;
      this.#source.close();
    }
    this.callbacks.closed(this, { opened: this.#opened });
  }
}

/**
 * The stream's resume token for the offsets the client has (`lastEventId`): base64url of
 * `{"v":1,"o":{channel: offset}}`, the format of functions/domain/resume-token.ts (which uses
 * Node's Buffer, so it is written again here with `btoa`; channel names are ASCII).
 */
export function encodeResumeToken(positions: Iterable<readonly [string, number]>): string {
  const o: Record<string, number> = {};
  for (const [channel, offset] of positions) o[channel] = offset;
  return btoa(JSON.stringify({ v: 1, o })).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
