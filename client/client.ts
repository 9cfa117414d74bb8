/**
 * The realtime client: one API over a WebSocket, or over server-sent events when WebSocket
 * cannot connect, that survives reconnects without missing or repeating a channel message.
 *
 *   const rt = connect({ url: 'ws://localhost:3001', sseUrl: 'http://localhost:3001/sse', token });
 *   const stop = rt.onJob('J1', (job) => render(job.progress, job.status));
 *
 * The connection life:
 *   connecting ─ws opens─▶ open ─drops─▶ reconnecting ─ws opens─▶ open
 *                               ╲ `fallbackAfterFailures` failed attempts in a row
 *                                ▶ fallback-sse ─a periodic WebSocket probe opens─▶ open
 * Every (re)connect subscribes each channel again with the last offset seen (`since`), and the
 * state turns `open` once the server acknowledged them. Before API Gateway's 2-hour cap a new
 * connection is opened and caught up before the old one is closed (no gap).
 */
import type { ChannelMessage, JobUpdateData, ServerMessage } from '../functions/domain/messages.ts';
import { LIMITS } from '../functions/domain/messages.ts';
import { Backoff } from './backoff.ts';
import { ChannelState } from './channel-state.ts';
import { Emitter, reportListenerError } from './emitter.ts';
import { DocumentPresence, type PresenceHost } from './presence.ts';
import { defaultFrameScheduler, systemTimers, Timer, type FrameScheduler, type Timers } from './timers.ts';
import { resolveToken, tokenSubject, withQuery, type TokenSource } from './token.ts';
import { SseConnection, encodeResumeToken, type EventSourceConstructor } from './transport-sse.ts';
import { ServerError, WsConnection, type WebSocketConstructor } from './transport-ws.ts';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'fallback-sse' | 'closed';
export type Transport = 'websocket' | 'sse';

export interface ConnectOptions {
  /** The WebSocket URL: `wss://{api}.execute-api.{region}.amazonaws.com/{stage}`, `ws://localhost:3001`. */
  url: string;
  /** The SSE function URL (`http://localhost:3001/sse` locally). Without it there is no fallback. */
  sseUrl?: string;
  /** A JWT, or a function returning one; called again for every connection, so it may refresh. */
  token: TokenSource;
  /** @default globalThis.WebSocket (pass `ws`'s WebSocket in Node 20) */
  WebSocket?: WebSocketConstructor;
  /** @default globalThis.EventSource (pass the `eventsource` package's in Node) */
  EventSource?: EventSourceConstructor;
  /** @default real timers and Date.now */
  timers?: Timers;
  /** @default Math.random */
  random?: () => number;
  /** Schedules presence sends. @default requestAnimationFrame, else a 16 ms timeout */
  frame?: FrameScheduler;
  /** Reconnect backoff: full jitter under a ceiling that doubles. @default { baseMs: 500, maxMs: 30000 } */
  backoff?: { baseMs?: number; maxMs?: number };
  /** A connection open this long is stable: the backoff starts over. @default 5000 */
  stableAfterMs?: number;
  /** WebSocket attempts failing in a row before falling back to SSE. @default 3 */
  fallbackAfterFailures?: number;
  /** While on SSE, how often to try WebSocket again. @default 30000 */
  probeIntervalMs?: number;
  /** A `ping` after this long without a frame (API Gateway closes after 10 idle minutes). @default 240000 */
  pingIntervalMs?: number;
  /** A `ping` this often while in a document (presence expires after 30 s of silence). @default 10000 */
  presencePingIntervalMs?: number;
  /** No `pong` this long after a ping: the connection is dead (a laptop that slept). @default 10000 */
  pongTimeoutMs?: number;
  /** Open a fresh connection this long after connecting (API Gateway's cap is 2 hours). @default 110 minutes */
  maxConnectionMs?: number;
  /** How long an out-of-order message waits for its predecessor before the channel resyncs. @default 1000 */
  holdMs?: number;
  /** At least this long between two presence sends (the server allows 20 a second). @default 60 */
  presenceMinIntervalMs?: number;
  /** How long to wait for the server to acknowledge the resubscriptions of a new connection. @default 10000 */
  resubscribeTimeoutMs?: number;
}

export interface SubscribeOptions {
  /** The server acknowledged the subscription (`recovered` when it was a resubscription with `since`). */
  onSubscribed?: (info: { recovered?: boolean }) => void;
  /**
   * What was missed could not be replayed (history no longer covers it): refetch the state
   * this channel feeds. For a job, its current state follows at once.
   */
  onRecoveryFailed?: () => void;
  /** The server refused or ended the subscription (PERMISSION_DENIED, CHANNEL_NOT_FOUND...). */
  onError?: (error: ServerError) => void;
}

export type ChannelHandler = (message: ChannelMessage) => void;

export interface ClientEvents extends Record<string, unknown[]> {
  state: [state: ConnectionState, transport: Transport | undefined];
  /** Every `error` the server sent, and failures to get a token. */
  error: [error: Error];
  /** A channel lost messages it could not recover (`recovered: false`). */
  recovery: [info: { channel: string; recovered: false }];
}

interface Subscriber {
  handler: ChannelHandler;
  options: SubscribeOptions;
}

interface ChannelEntry {
  name: string;
  state: ChannelState;
  subscribers: Set<Subscriber>;
  acked: boolean;
}

type Purpose = 'connect' | 'planned' | 'probe';

const CHANNEL_EVENTS: ReadonlySet<string> = new Set(['job:update', 'notification', 'doc:event']);
const SSE_MAX_CHANNELS = 20;

/** Opens a client; it connects at once and keeps connecting until `close()`. */
export function connect(options: ConnectOptions): RealtimeClient {
  return new RealtimeClient(options);
}

export class RealtimeClient implements PresenceHost {
  readonly #o: Required<Omit<ConnectOptions, 'sseUrl' | 'WebSocket' | 'EventSource' | 'backoff'>> & Pick<ConnectOptions, 'sseUrl'>;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #EventSource: EventSourceConstructor | undefined;
  readonly #timers: Timers;
  readonly #events = new Emitter<ClientEvents>();
  readonly #backoff: Backoff;
  readonly #channels = new Map<string, ChannelEntry>();
  readonly #docs = new Map<string, DocumentPresence>();

  #state: ConnectionState = 'connecting';
  #mode: 'ws' | 'sse' = 'ws';
  #closed = false;
  #userId: string | undefined;
  /** The live WebSocket, and ones being opened (with why). */
  #ws: WsConnection | undefined;
  readonly #attempts = new Map<WsConnection, Purpose>();
  #sse: SseConnection | undefined;
  #sseNext: SseConnection | undefined;
  #wsFailures = 0;
  #lastSentAt = 0;
  #lastHeartbeatAt = 0;

  readonly #reconnectTimer: Timer;
  readonly #pingTimer: Timer;
  readonly #pongTimer: Timer;
  readonly #plannedTimer: Timer;
  readonly #stableTimer: Timer;
  readonly #probeTimer: Timer;
  readonly #sseReopenTimer: Timer;
  readonly #presenceTimer: Timer;
  readonly #presenceQueue = new Set<DocumentPresence>();
  #presenceScheduled = false;
  #presenceNextAt = 0;

  constructor(options: ConnectOptions) {
    const timers = options.timers ?? systemTimers;
    this.#timers = timers;
    this.#o = {
      url: options.url,
      sseUrl: options.sseUrl,
      token: options.token,
      timers,
      random: options.random ?? Math.random,
      frame: options.frame ?? defaultFrameScheduler(timers),
      stableAfterMs: options.stableAfterMs ?? 5000,
      fallbackAfterFailures: Math.max(1, options.fallbackAfterFailures ?? 3),
      probeIntervalMs: options.probeIntervalMs ?? 30_000,
      pingIntervalMs: options.pingIntervalMs ?? 240_000,
      presencePingIntervalMs: options.presencePingIntervalMs ?? 10_000,
      pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
      maxConnectionMs: options.maxConnectionMs ?? 110 * 60_000,
      holdMs: options.holdMs ?? 1000,
      presenceMinIntervalMs: options.presenceMinIntervalMs ?? 60,
      resubscribeTimeoutMs: options.resubscribeTimeoutMs ?? 10_000,
    };
    const g = globalThis as { WebSocket?: WebSocketConstructor; EventSource?: EventSourceConstructor };
    this.#WebSocket = options.WebSocket ?? g.WebSocket;
    this.#EventSource = options.EventSource ?? g.EventSource;
    this.#backoff = new Backoff({ ...options.backoff, random: this.#o.random });
    this.#reconnectTimer = new Timer(timers);
    this.#pingTimer = new Timer(timers);
    this.#pongTimer = new Timer(timers);
    this.#plannedTimer = new Timer(timers);
    this.#stableTimer = new Timer(timers);
    this.#probeTimer = new Timer(timers);
    this.#sseReopenTimer = new Timer(timers);
    this.#presenceTimer = new Timer(timers);
    this.#listenToNetwork();
    void this.#attemptWs('connect');
  }

  // ---------------------------------------------------------------------------------------
  // Public API

  get state(): ConnectionState {
    return this.#state;
  }

  /** What carries messages now: `websocket`, `sse`, or undefined while none is open. */
  get transport(): Transport | undefined {
    if (this.#ws?.isOpen) return 'websocket';
    if (this.#mode === 'sse' && this.#state === 'fallback-sse') return 'sse';
    return undefined;
  }

  /** The user the token names (read from it, not verified), once a token was fetched. */
  get userId(): string | undefined {
    return this.#userId;
  }

  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Follows a channel (`jobs.{id}`, `user.{id}`, `docs.{id}`): `handler` gets every message
   * once, in offset order, across reconnects and transports. Returns the unsubscribe function.
   */
  subscribe(channel: string, handler: ChannelHandler, options: SubscribeOptions = {}): () => void {
    if (channel.startsWith('presence.')) throw new TypeError('Use joinDocument(documentId) for presence');
    if (channel.length === 0 || channel.length > LIMITS.maxChannelLength) throw new TypeError('Not a channel name');
    if (this.#closed) throw new Error('The client is closed');
    let entry = this.#channels.get(channel);
    const subscriber: Subscriber = { handler, options };
    if (!entry) {
      const created: ChannelEntry = {
        name: channel,
        state: new ChannelState(channel, this.#timers, this.#o.holdMs, () => this.#resync(created)),
        subscribers: new Set(),
        acked: false,
      };
      entry = created;
      entry.subscribers.add(subscriber);
      this.#channels.set(channel, entry);
      for (const conn of this.#wsConnections()) void this.#subscribeOn(conn, entry);
      if (this.#mode === 'sse') this.#reopenSseSoon();
    } else {
      entry.subscribers.add(subscriber);
      if (entry.acked) queueMicrotask(() => options.onSubscribed?.({}));
    }
    const e = entry;
    return () => {
      if (!e.subscribers.delete(subscriber) || e.subscribers.size > 0 || this.#channels.get(channel) !== e) return;
      this.#channels.delete(channel);
      e.state.dispose();
      for (const conn of this.#wsConnections()) conn.send({ action: 'unsubscribe', channel });
      if (this.#mode === 'sse') this.#reopenSseSoon();
    };
  }

  /** Follows a job: `cb` gets each update (status, progress, message) once, in order. */
  onJob(jobId: string, cb: (job: JobUpdateData, message: ChannelMessage) => void, options?: SubscribeOptions): () => void {
    return this.subscribe(
      `jobs.${jobId}`,
      (message) => {
        if (message.event === 'job:update') cb(message.data, message);
      },
      options,
    );
  }

  /** Publishes a document event on `docs.{id}` (owners and editors); resolves with its offset. Needs the WebSocket. */
  async publish(channel: string, data: unknown): Promise<{ offset: number }> {
    const conn = this.#ws;
    if (!conn?.isOpen) throw new NotConnectedError(this.#mode === 'sse' ? 'publish needs the WebSocket; the client is on the SSE fallback' : 'not connected');
    const reply = await conn.request({ action: 'publish', channel, data });
    this.#sent(false);
    if (reply.event !== 'published') throw new Error(`unexpected reply ${reply.event}`);
    const entry = this.#channels.get(channel);
    if (entry) this.#deliver(entry, entry.state.markSeen(reply.offset));
    return { offset: reply.offset };
  }

  /**
   * Joins a document's presence: `members` is the live map (this user included), with
   * join/leave/update events; `updateCursor`/`updateSelection` send coalesced. Presence needs
   * the WebSocket: on the SSE fallback the map is empty until WebSocket is back.
   */
  joinDocument(documentId: string): DocumentPresence {
    const existing = this.#docs.get(documentId);
    if (existing && !existing.left) return existing;
    if (this.#closed) throw new Error('The client is closed');
    const doc = new DocumentPresence(documentId, this);
    this.#docs.set(documentId, doc);
    for (const conn of this.#wsConnections()) void this.#joinOn(conn, doc);
    this.#schedulePing();
    return doc;
  }

  /** Tries to connect now instead of waiting for the backoff (e.g. the network came back). */
  reconnectNow(): void {
    if (this.#closed || !this.#reconnectTimer.armed) return;
    this.#reconnectTimer.clear();
    this.#retry();
  }

  /** Closes everything; the state becomes `closed` for good. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of [this.#reconnectTimer, this.#pingTimer, this.#pongTimer, this.#plannedTimer, this.#stableTimer, this.#probeTimer, this.#sseReopenTimer, this.#presenceTimer]) t.clear();
    this.#ws?.close(1000, 'client closed');
    for (const conn of [...this.#attempts.keys()]) conn.close(1000, 'client closed');
    this.#sse?.close();
    this.#sseNext?.close();
    for (const doc of this.#docs.values()) doc.clear();
    for (const entry of this.#channels.values()) entry.state.dispose();
    this.#removeNetworkListener?.();
    this.#setState('closed');
  }

  // ---------------------------------------------------------------------------------------
  // PresenceHost

  schedulePresence(doc: DocumentPresence): void {
    this.#presenceQueue.add(doc);
    if (this.#presenceScheduled) return;
    this.#presenceScheduled = true;
    this.#o.frame(() => {
      const wait = this.#presenceNextAt - this.#timers.now();
      if (wait > 0) this.#presenceTimer.set(wait, () => this.#flushPresence());
      else this.#flushPresence();
    });
  }

  leaveDocument(doc: DocumentPresence): void {
    if (this.#docs.get(doc.documentId) !== doc) return;
    this.#docs.delete(doc.documentId);
    this.#presenceQueue.delete(doc);
    for (const conn of this.#wsConnections()) conn.send({ action: 'unsubscribe', channel: doc.channel });
    this.#schedulePing();
  }

  // ---------------------------------------------------------------------------------------
  // WebSocket

  async #attemptWs(purpose: Purpose): Promise<void> {
    if (this.#closed) return;
    const Ctor = this.#WebSocket;
    if (!Ctor) {
      // No WebSocket at all here: SSE straight away.
      this.#wsFailures = this.#o.fallbackAfterFailures;
      this.#wsFailed(purpose);
      return;
    }
    let token: string;
    try {
      token = await resolveToken(this.#o.token);
    } catch (error) {
      this.#events.emit('error', new TokenError(error));
      this.#wsFailed(purpose);
      return;
    }
    if (this.#closed) return;
    this.#userId = tokenSubject(token) ?? this.#userId;
    const conn = new WsConnection(Ctor, withQuery(this.#o.url, { token }), {
      message: (message, c) => this.#onMessage(message, c),
      closed: (c, info) => {
        // A constructor that throws (a Content-Security-Policy, a page that forbids WebSocket)
        // will throw again: no point in more attempts before the fallback.
        if (info.blocked) this.#wsFailures = Math.max(this.#wsFailures, this.#o.fallbackAfterFailures - 1);
        this.#onWsClosed(c);
      },
    });
    this.#attempts.set(conn, purpose);
    try {
      await conn.opened;
    } catch {
      return; // #onWsClosed handles it
    }
    if (this.#closed || conn.ended) return;
    await this.#adopt(conn);
  }

  /** A new connection catches up (every channel with `since`, every document) before it becomes the live one. */
  async #adopt(conn: WsConnection): Promise<void> {
    const work = [...this.#channels.values()].map((entry) => this.#subscribeOn(conn, entry));
    for (const doc of this.#docs.values()) work.push(this.#joinOn(conn, doc));
    await new Promise<void>((resolve) => {
      const timer = new Timer(this.#timers);
      timer.set(this.#o.resubscribeTimeoutMs, resolve);
      void Promise.allSettled(work).then(() => {
        timer.clear();
        resolve();
      });
    });
    if (this.#closed || conn.ended) return;
    const old = this.#ws;
    this.#attempts.delete(conn);
    this.#ws = conn;
    this.#mode = 'ws';
    this.#wsFailures = 0;
    this.#reconnectTimer.clear();
    this.#probeTimer.clear();
    // The old connection and the SSE stream go only now, so nothing falls between them.
    old?.close(1000, 'replaced');
    this.#closeSse();
    this.#lastSentAt = this.#lastHeartbeatAt = this.#timers.now();
    this.#schedulePing();
    this.#plannedTimer.set(this.#o.maxConnectionMs, () => void this.#attemptWs('planned'));
    this.#stableTimer.set(this.#o.stableAfterMs, () => this.#backoff.reset());
    this.#setState('open');
    for (const doc of this.#docs.values()) if (doc.hasPending) this.schedulePresence(doc);
  }

  #onWsClosed(conn: WsConnection): void {
    const purpose = this.#attempts.get(conn);
    this.#attempts.delete(conn);
    if (this.#closed) return;
    if (conn === this.#ws) {
      this.#ws = undefined;
      for (const t of [this.#pingTimer, this.#pongTimer, this.#plannedTimer, this.#stableTimer]) t.clear();
      for (const entry of this.#channels.values()) entry.acked = false;
      // A planned successor already open takes over when it has caught up.
      if ([...this.#attempts.keys()].some((c) => c.isOpen)) return;
      this.#setState('reconnecting');
      this.#scheduleRetry();
      return;
    }
    if (purpose === undefined) return; // an old connection, replaced
    // Failed to open, or closed while catching up: either way a failed attempt.
    this.#wsFailed(purpose);
  }

  /** An attempt that did not become the live connection. */
  #wsFailed(purpose: Purpose): void {
    if (this.#closed) return;
    if (purpose === 'planned') {
      // The live connection still works; try again a little later (the cap closes it anyway).
      if (this.#ws?.isOpen) {
        this.#plannedTimer.set(30_000, () => void this.#attemptWs('planned'));
      } else {
        // The old connection already went (the cap) and its successor failed too.
        this.#setState('reconnecting');
        this.#scheduleRetry();
      }
      return;
    }
    if (purpose === 'probe') {
      this.#scheduleProbe();
      return;
    }
    this.#wsFailures++;
    if (this.#mode === 'ws' && this.#canUseSse() && this.#wsFailures >= this.#o.fallbackAfterFailures) {
      this.#startSse();
      return;
    }
    if (this.#mode === 'ws') this.#setState(this.#state === 'connecting' ? 'connecting' : 'reconnecting');
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    this.#reconnectTimer.set(this.#backoff.next(), () => this.#retry());
  }

  #retry(): void {
    if (this.#mode === 'sse') void this.#openSse();
    else void this.#attemptWs('connect');
  }

  /** Connections that can carry requests: the live one and those catching up. */
  #wsConnections(): WsConnection[] {
    const all = [...(this.#ws ? [this.#ws] : []), ...this.#attempts.keys()];
    return all.filter((c) => c.isOpen);
  }

  async #subscribeOn(conn: WsConnection, entry: ChannelEntry): Promise<void> {
    const since = entry.state.last;
    try {
      await conn.request({ action: 'subscribe', channel: entry.name, ...(since === undefined ? {} : { since }) });
      this.#sent(false);
    } catch {
      // An `error` reply reached the subscribers through #onMessage; a closed connection retries.
    }
  }

  async #joinOn(conn: WsConnection, doc: DocumentPresence): Promise<void> {
    try {
      await conn.request({ action: 'subscribe', channel: doc.channel });
      this.#sent(false);
      // What this user showed before a reconnect is shown again.
      doc.markLocalStateDirty();
      if (doc.hasPending) this.schedulePresence(doc);
    } catch {
      // reported through #onMessage
    }
  }

  /** A gap that did not fill: ask again from the last offset delivered. */
  #resync(entry: ChannelEntry): void {
    if (this.#channels.get(entry.name) !== entry) return;
    if (this.#ws?.isOpen) void this.#subscribeOn(this.#ws, entry);
    else if (this.#mode === 'sse') this.#reopenSseSoon();
  }

  // ---------------------------------------------------------------------------------------
  // Keep-alive and planned reconnect

  #sent(heartbeat: boolean): void {
    const now = this.#timers.now();
    this.#lastSentAt = now;
    if (heartbeat) this.#lastHeartbeatAt = now;
  }

  /** The next ping: after `pingIntervalMs` without a frame, or `presencePingIntervalMs` without a heartbeat while in a document. */
  #schedulePing(): void {
    if (!this.#ws?.isOpen) return;
    const due = this.#docs.size > 0
      ? Math.min(this.#lastHeartbeatAt + this.#o.presencePingIntervalMs, this.#lastSentAt + this.#o.pingIntervalMs)
      : this.#lastSentAt + this.#o.pingIntervalMs;
    this.#pingTimer.set(due - this.#timers.now(), () => {
      const due2 = this.#docs.size > 0
        ? Math.min(this.#lastHeartbeatAt + this.#o.presencePingIntervalMs, this.#lastSentAt + this.#o.pingIntervalMs)
        : this.#lastSentAt + this.#o.pingIntervalMs;
      if (this.#timers.now() >= due2) this.#ping();
      this.#schedulePing();
    });
  }

  #ping(): void {
    const conn = this.#ws;
    if (!conn?.isOpen) return;
    this.#sent(true);
    if (!this.#pongTimer.armed) {
      this.#pongTimer.set(this.#o.pongTimeoutMs, () => {
        // No answer: the connection is dead even if the socket does not know it yet.
        if (this.#ws === conn) conn.close(4000, 'no pong');
      });
    }
    conn.request({ action: 'ping' }).then(
      () => this.#pongTimer.clear(),
      () => {},
    );
  }

  // ---------------------------------------------------------------------------------------
  // SSE fallback

  #canUseSse(): boolean {
    return this.#o.sseUrl !== undefined && this.#EventSource !== undefined;
  }

  #startSse(): void {
    this.#mode = 'sse';
    this.#reconnectTimer.clear();
    // Presence needs the WebSocket: nobody is shown until it is back.
    for (const doc of this.#docs.values()) doc.clear();
    void this.#openSse();
    this.#scheduleProbe();
  }

  #sseChannels(): string[] {
    return [...this.#channels.keys()].slice(0, SSE_MAX_CHANNELS);
  }

  async #openSse(): Promise<void> {
    if (this.#closed || this.#mode !== 'sse') return;
    const Ctor = this.#EventSource;
    const sseUrl = this.#o.sseUrl;
    if (!Ctor || sseUrl === undefined) return;
    const channels = this.#sseChannels();
    if (channels.length === 0) {
      // Nothing to follow: no stream, but the fallback is in place.
      this.#closeSse();
      this.#setState('fallback-sse');
      return;
    }
    let token: string;
    try {
      token = await resolveToken(this.#o.token);
    } catch (error) {
      this.#events.emit('error', new TokenError(error));
      this.#scheduleRetry();
      return;
    }
    if (this.#closed || this.#mode !== 'sse') return;
    this.#userId = tokenSubject(token) ?? this.#userId;
    const positions: [string, number][] = [];
    for (const name of channels) {
      const last = this.#channels.get(name)?.state.last;
      if (last !== undefined) positions.push([name, last]);
    }
    const url = withQuery(sseUrl, {
      channels: channels.join(','),
      token,
      ...(positions.length > 0 ? { lastEventId: encodeResumeToken(positions) } : {}),
    });
    this.#sseNext?.close();
    const conn = new SseConnection(Ctor, url, channels, {
      open: (c) => {
        if (c !== this.#sseNext) return;
        this.#sseNext = undefined;
        const old = this.#sse;
        this.#sse = c;
        old?.close();
        this.#stableTimer.set(this.#o.stableAfterMs, () => this.#backoff.reset());
        if (this.#mode === 'sse') this.#setState('fallback-sse');
      },
      message: (message) => this.#onMessage(message, undefined),
      closed: (c) => {
        if (this.#closed) return;
        if (c === this.#sseNext) this.#sseNext = undefined;
        else if (c === this.#sse) this.#sse = undefined;
        else return;
        if (this.#mode !== 'sse') return;
        this.#stableTimer.clear();
        if (!this.#sse && !this.#sseNext) {
          this.#setState('reconnecting');
          this.#scheduleRetry();
        }
      },
    });
    this.#sseNext = conn;
  }

  #reopenSseSoon(): void {
    if (this.#sseReopenTimer.armed) return;
    this.#sseReopenTimer.set(0, () => void this.#openSse());
  }

  #closeSse(): void {
    const live = this.#sse;
    const next = this.#sseNext;
    this.#sse = undefined;
    this.#sseNext = undefined;
    live?.close();
    next?.close();
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#mode !== 'sse') return;
    // A little jitter, so clients behind one proxy do not probe together.
    const ms = this.#o.probeIntervalMs * (0.75 + this.#o.random() * 0.5);
    this.#probeTimer.set(ms, () => void this.#attemptWs('probe'));
  }

  // ---------------------------------------------------------------------------------------
  // Messages

  #onMessage(message: ServerMessage, conn: WsConnection | undefined): void {
    if (this.#closed) return;
    if (conn === this.#ws) this.#pongTimer.clear(); // anything from the server proves it alive
    if (CHANNEL_EVENTS.has(message.event)) {
      const m = message as ChannelMessage;
      const entry = this.#channels.get(m.channel);
      if (entry) this.#deliver(entry, entry.state.accept(m));
      return;
    }
    switch (message.event) {
      case 'subscribed': {
        const entry = this.#channels.get(message.channel);
        if (!entry) return;
        entry.acked = true;
        for (const s of entry.subscribers) safely(() => s.options.onSubscribed?.(message.recovered === undefined ? {} : { recovered: message.recovered }));
        if (message.recovered === false) this.#recoveryFailed(entry);
        return;
      }
      case 'recovery': {
        const entry = this.#channels.get(message.channel);
        if (entry) this.#recoveryFailed(entry);
        return;
      }
      case 'presence:snapshot':
      case 'presence:user-joined':
      case 'presence:update':
      case 'presence:user-left': {
        const doc = this.#docs.get(message.channel.slice('presence.'.length));
        // Only a WebSocket carries presence (also one catching up while SSE is still live).
        if (doc && conn) doc.apply(message);
        return;
      }
      case 'error': {
        const error = new ServerError(message);
        if (message.code === 'RATE_LIMIT_EXCEEDED' && message.channel === undefined) {
          // Presence updates over the server's rate: pause them as told.
          this.#presenceNextAt = Math.max(this.#presenceNextAt, this.#timers.now() + (message.retryAfterMs ?? 1000));
        }
        const entry = message.channel === undefined ? undefined : this.#channels.get(message.channel);
        if (entry) for (const s of entry.subscribers) safely(() => s.options.onError?.(error));
        if (message.channel?.startsWith('presence.')) this.#docs.get(message.channel.slice('presence.'.length))?.fail(error);
        this.#events.emit('error', error);
        return;
      }
      default:
        return;
    }
  }

  #recoveryFailed(entry: ChannelEntry): void {
    const ready = entry.state.restart();
    for (const s of entry.subscribers) safely(() => s.options.onRecoveryFailed?.());
    this.#events.emit('recovery', { channel: entry.name, recovered: false });
    this.#deliver(entry, ready);
  }

  #deliver(entry: ChannelEntry, messages: ChannelMessage[]): void {
    for (const message of messages) {
      for (const s of [...entry.subscribers]) safely(() => s.handler(message));
    }
  }

  #flushPresence(): void {
    this.#presenceScheduled = false;
    const conn = this.#ws;
    if (!conn?.isOpen) return; // kept; sent again after the document is rejoined
    for (const doc of this.#presenceQueue) {
      this.#presenceQueue.delete(doc);
      if (doc.left || this.#docs.get(doc.documentId) !== doc) continue;
      const frame = doc.takePending();
      if (!frame) continue;
      conn.send(frame);
      this.#sent(true);
      this.#presenceNextAt = this.#timers.now() + this.#o.presenceMinIntervalMs;
      break;
    }
    // One send per slot; the rest wait for the next.
    for (const doc of this.#presenceQueue) {
      if (doc.hasPending) {
        this.#presenceQueue.delete(doc);
        this.schedulePresence(doc);
        break;
      }
    }
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#events.emit('state', state, this.transport);
  }

  #removeNetworkListener: (() => void) | undefined;

  /** In a browser, the `online` event ends a backoff wait at once. */
  #listenToNetwork(): void {
    const target = globalThis as { addEventListener?: (t: string, l: () => void) => void; removeEventListener?: (t: string, l: () => void) => void };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return;
    const listener = (): void => this.reconnectNow();
    target.addEventListener('online', listener);
    this.#removeNetworkListener = () => target.removeEventListener?.('online', listener);
  }
}

/** `publish` needs an open WebSocket. */
export class NotConnectedError extends Error {
  readonly code = 'NOT_CONNECTED';
  constructor(message: string) {
    super(message);
    this.name = 'NotConnectedError';
  }
}

/** The `token` function failed; the client retries with backoff. */
export class TokenError extends Error {
  readonly code = 'TOKEN_UNAVAILABLE';
  constructor(cause: unknown) {
    super(`Could not get a token: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'TokenError';
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    reportListenerError(error);
  }
}
