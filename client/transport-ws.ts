/**
 * One WebSocket connection: opens it, sends frames, matches replies to requests by
 * `requestId`, validates what arrives against the shared schema, and reports its end once.
 */
import { ServerMessageSchema, type ServerMessage } from '../functions/domain/messages.ts';

/** The part of the WHATWG WebSocket the SDK uses (browsers' global, or the `ws` package in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface WsCallbacks {
  message(message: ServerMessage, connection: WsConnection): void;
  /** The connection ended after it opened (`opened`), or never opened. Called once. */
  closed(connection: WsConnection, info: { opened: boolean; code?: number; reason?: string; blocked?: boolean }): void;
  /** A frame that is not a protocol message (ignored). */
  invalid?(raw: unknown): void;
}

interface Pending {
  resolve(message: ServerMessage): void;
  reject(error: Error): void;
}

export class ConnectionClosedError extends Error {
  constructor() {
    super('The connection closed before the reply arrived');
    this.name = 'ConnectionClosedError';
  }
}

const OPEN = 1;

export class WsConnection {
  readonly #socket: WebSocketLike;
  readonly #pending = new Map<string, Pending>();
  #opened = false;
  #ended = false;
  #nextId = 0;
  readonly opened: Promise<void>;

  constructor(
    Ctor: WebSocketConstructor,
    url: string,
    private readonly callbacks: WsCallbacks,
    private readonly idPrefix = 'c',
  ) {
    let resolveOpen!: () => void;
    let rejectOpen!: (e: Error) => void;
    this.opened = new Promise<void>((resolve, reject) => {
      resolveOpen = resolve;
      rejectOpen = reject;
    });
    // Nobody may be waiting on `opened` when it fails.
    this.opened.catch(() => {});
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url);
    } catch (error) {
      // A page that blocks WebSocket may throw from the constructor: a failed attempt.
      this.#socket = { readyState: 3, send() {}, close() {}, onopen: null, onclose: null, onerror: null, onmessage: null };
      this.#ended = true;
      rejectOpen(error instanceof Error ? error : new Error(String(error)));
      queueMicrotask(() => callbacks.closed(this, { opened: false, blocked: true }));
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      if (this.#ended) return;
      this.#opened = true;
      resolveOpen();
    };
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onerror = () => {
      // `close` follows an error; some implementations skip it when the upgrade fails.
      if (!this.#opened) this.#end({ opened: false });
    };
    socket.onclose = (event) => {
      const info: { opened: boolean; code?: number; reason?: string } = { opened: this.#opened };
      if (event.code !== undefined) info.code = event.code;
      if (event.reason) info.reason = event.reason;
      if (!this.#opened) rejectOpen(new Error(`WebSocket closed before it opened (${String(event.code ?? '')})`));
      this.#end(info);
    };
    this.#rejectOpen = rejectOpen;
  }

  #rejectOpen: ((e: Error) => void) | undefined;

  get isOpen(): boolean {
    return this.#opened && !this.#ended && this.#socket.readyState === OPEN;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Sends one frame; false when the socket is not open (the frame is dropped). */
  send(frame: Record<string, unknown>): boolean {
    if (!this.isOpen) return false;
    try {
      this.#socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends `frame` with a fresh requestId and resolves with the reply that carries it (an `error` rejects). */
  request(frame: Record<string, unknown>): Promise<ServerMessage> {
    const requestId = `${this.idPrefix}${String(++this.#nextId)}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...frame, requestId })) {
        reject(new ConnectionClosedError());
        return;
      }
      this.#pending.set(requestId, { resolve, reject });
    });
  }

  /** Closes the socket and reports the end at once (a dead socket may take long to say so). */
  close(code = 1000, reason = 'client closed'): void {
    try {
      this.#socket.close(code, reason);
    } catch {
      // already closing
    }
    this.#end({ opened: this.#opened, code, reason });
  }

  #receive(data: unknown): void {
    if (this.#ended) return;
    let raw: unknown;
    try {
      raw = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      this.callbacks.invalid?.(data);
      return;
    }
    const parsed = ServerMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.callbacks.invalid?.(raw);
      return;
    }
    const message = parsed.data as ServerMessage;
    const requestId = 'requestId' in message ? message.requestId : undefined;
    const pending = requestId === undefined ? undefined : this.#pending.get(requestId);
    if (pending && requestId !== undefined) {
      this.#pending.delete(requestId);
      if (message.event === 'error') pending.reject(new ServerError(message));
      else pending.resolve(message);
    }
    this.callbacks.message(message, this);
  }

  #end(info: { opened: boolean; code?: number; reason?: string }): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#rejectOpen?.(new Error('WebSocket failed to open'));
    this.#socket.onopen = null;
    this.#socket.onmessage = null;
    this.#socket.onerror = null;
    this.#socket.onclose = null;
    for (const p of this.#pending.values()) p.reject(new ConnectionClosedError());
    this.#pending.clear();
    this.callbacks.closed(this, info);
  }
}

/** An `error` the server answered to a request. */
export class ServerError extends Error {
  readonly code: string;
  readonly channel: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(readonly payload: Extract<ServerMessage, { event: 'error' }>) {
    super(payload.message);
    this.name = 'ServerError';
    this.code = payload.code;
    this.channel = payload.channel;
    this.retryAfterMs = payload.retryAfterMs;
  }
}
