/**
 * Server-sent events: one stream follows up to 20 channels for one user, for as long as the
 * function may run, and ends cleanly so the browser reconnects with `Last-Event-ID`.
 *
 * The SSE function runs outside the VPC (Lambda response streaming is not supported in one),
 * so it cannot reach Redis or be posted to: it polls DynamoDB. Each poll reads every channel
 * head of the stream at once (`ChannelStore.heads`, one BatchGetItem), and for each channel
 * whose head moved past what the client has, reads history after that offset
 * (`HistoryStore.readAfter`). The interval is short after activity and doubles while idle.
 *
 * Every event's `id` is a resume token of every channel's position (resume-token.ts). The
 * client never sees an offset twice or out of order on one stream: a channel's position only
 * moves forward, and only by delivering history in consecutive order, or by an explicit
 * `recovery` event when history no longer covers a gap (then, for a job, its current state,
 * and live messages from the head on).
 */
import type { ChannelAuthorizer } from './authorization.ts';
import type { Channel } from './channels.ts';
import { ErrorCode, RealtimeError, permissionDenied } from './errors.ts';
import { jobUpdateData } from './jobs.ts';
import { LIMITS, type ChannelMessage, type RecoveryMessage } from './messages.ts';
import type { ChannelHead, ChannelStore, Clock, HistoryStore, Identity, JobState, Log, Metrics } from './ports.ts';
import { decodeResumeToken, encodeResumeToken, type ResumePositions } from './resume-token.ts';
import { formatComment, formatEvent, formatRetry } from './sse-format.ts';
import { errorMessage } from './wire.ts';

/** Where a stream's bytes go: the function's response stream. */
export interface SseSink {
  /** Writes one chunk. Never rejects: a failed write closes the sink. */
  write(chunk: string): Promise<void>;
  /** True once the client went away or the stream was ended. */
  readonly closed: boolean;
  /** Aborted when the client goes away, so a wait ends at once. */
  readonly signal: AbortSignal;
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const abortableSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted || ms <= 0) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

export interface SseOptions {
  /** A `: heartbeat` comment when nothing else was written for this long. @default 15000 */
  heartbeatMs?: number;
  /** Poll interval after activity. @default 200 */
  pollMinMs?: number;
  /** The idle interval doubles up to this. @default 1000 */
  pollMaxMs?: number;
  /** The `retry:` hint sent first. @default 2000 */
  retryMs?: number;
  /** History messages read per query. @default 100 */
  historyPageSize?: number;
  /**
   * History covers the last this many messages of a channel (HISTORY_MAX_MESSAGES): a client
   * further behind is not replayed, as over WebSocket. @default LIMITS.historyMaxMessages (1000)
   */
  historyMaxMessages?: number;
  /**
   * How long history may lag a channel's head before the stream treats the gap as lost. The
   * fan-out moves the head before it writes history, so a poll can see the head first.
   * @default 2000
   */
  gapGraceMs?: number;
  /** Polls failing in a row before the stream ends (the client reconnects). @default 3 */
  maxConsecutiveFailures?: number;
}

export interface SseDeps {
  channels: ChannelStore;
  history: HistoryStore;
  authorizer: ChannelAuthorizer;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  /** @default abortableSleep */
  sleep?: Sleep;
}

export interface SseStreamRequest {
  identity: Identity;
  /** Already parsed, de-duplicated and authorized (SseService.authorize). */
  channels: readonly Channel[];
  /** `Last-Event-ID`: the resume token of the previous stream; a malformed one is ignored. */
  lastEventId?: string;
  /** How long this stream may last (ms), so it ends before the function's timeout. */
  budgetMs: number;
  sink: SseSink;
}

export type SseEndReason = 'budget' | 'closed' | 'no-channels' | 'failed';

export interface SseStreamReport {
  reason: SseEndReason;
  /** Events written (`event:` blocks: messages, recovery, errors, subscribed); not heartbeats. */
  eventsSent: number;
  durationMs: number;
}

interface ResolvedOptions {
  heartbeatMs: number;
  pollMinMs: number;
  pollMaxMs: number;
  retryMs: number;
  historyPageSize: number;
  historyMaxMessages: number;
  gapGraceMs: number;
  maxConsecutiveFailures: number;
}

/** Opens SSE streams: authorization first (before any byte is sent), then the stream. */
export class SseService {
  readonly #deps: SseDeps;
  readonly #options: ResolvedOptions;

  constructor(deps: SseDeps, options: SseOptions = {}) {
    this.#deps = deps;
    const pollMinMs = Math.max(1, options.pollMinMs ?? 200);
    this.#options = {
      heartbeatMs: Math.max(1, options.heartbeatMs ?? 15_000),
      pollMinMs,
      pollMaxMs: Math.max(pollMinMs, options.pollMaxMs ?? 1000),
      retryMs: options.retryMs ?? 2000,
      historyPageSize: Math.max(1, options.historyPageSize ?? 100),
      historyMaxMessages: Math.max(1, options.historyMaxMessages ?? LIMITS.historyMaxMessages),
      gapGraceMs: Math.max(0, options.gapGraceMs ?? 2000),
      maxConsecutiveFailures: Math.max(1, options.maxConsecutiveFailures ?? 3),
    };
  }

  /**
   * The same rules as a WebSocket subscribe (ChannelAuthorizer), for every channel; throws the
   * first refusal in the request's order (PERMISSION_DENIED naming the channel).
   */
  async authorize(identity: Identity, channels: readonly Channel[]): Promise<void> {
    const results = await Promise.allSettled(channels.map((channel) => this.#deps.authorizer.authorizeSubscribe(identity, channel)));
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      const error: unknown = result.reason;
      if (error instanceof RealtimeError && error.code === ErrorCode.PERMISSION_DENIED) this.#deps.metrics.count('SubscriptionsDenied');
      throw error;
    }
  }

  /** Runs one stream until its budget is spent, the client goes away or nothing is left to follow. */
  stream(request: SseStreamRequest): Promise<SseStreamReport> {
    return new SseStream(this.#deps, this.#options, request).run();
  }
}

class SseStream {
  readonly #deps: SseDeps;
  readonly #options: ResolvedOptions;
  readonly #request: SseStreamRequest;
  readonly #sleep: Sleep;
  /** The channels still followed, in the request's order, and the last offset the client has on each. */
  readonly #positions = new Map<string, number>();
  readonly #channels = new Map<string, Channel>();
  /** When a channel's history was first seen not covering its head (a gap, perhaps only a lag). */
  readonly #gapSince = new Map<string, number>();
  #lastWriteAt = 0;
  #eventsSent = 0;

  constructor(deps: SseDeps, options: ResolvedOptions, request: SseStreamRequest) {
    this.#deps = deps;
    this.#options = options;
    this.#request = request;
    this.#sleep = deps.sleep ?? abortableSleep;
  }

  get #user(): string {
    return this.#request.identity.userId;
  }

  async run(): Promise<SseStreamReport> {
    const { clock, log, metrics } = this.#deps;
    const { sink, budgetMs } = this.#request;
    const started = clock.now();
    const deadline = started + Math.max(0, budgetMs);
    metrics.count('SseStreamsOpened');
    log.info('sse stream opened', { channels: this.#request.channels.map((c) => c.name), budgetMs, resumed: this.#request.lastEventId !== undefined });
    let reason: SseEndReason;
    try {
      await this.#write(formatRetry(this.#options.retryMs));
      const heads = await this.#deps.channels.heads(this.#request.channels.map((c) => c.name));
      await this.#open(heads);
      reason = await this.#live(heads, deadline);
    } catch (error) {
      if (sink.closed) {
        reason = 'closed';
      } else {
        reason = 'failed';
        log.error('sse stream failed', { error });
        // Temporary: the client reconnects with its last event id and misses nothing.
        const failure = new RealtimeError(ErrorCode.INTERNAL, 'The stream failed; reconnect to resume');
        await this.#sendEvent('error', errorMessage(failure, clock.now()));
      }
    }
    const report: SseStreamReport = { reason, eventsSent: this.#eventsSent, durationMs: clock.now() - started };
    metrics.count('SseStreamsClosed');
    if (this.#eventsSent > 0) metrics.count('SseEventsSent', this.#eventsSent);
    log.info('sse stream ended', { ...report });
    return report;
  }

  /** Positions from the token (or the heads), `subscribed` per channel, current job states. */
  async #open(heads: Map<string, ChannelHead>): Promise<void> {
    const resumed = this.#resumePositions();
    const snapshots: JobState[] = [];
    const denied: string[] = [];
    for (const channel of this.#request.channels) {
      const head = heads.get(channel.name);
      const job = channel.kind === 'jobs' ? head?.job : undefined;
      // Authorized a moment ago, so only a job whose first event just arrived can be another's.
      if (job && job.userId !== this.#user) {
        denied.push(channel.name);
        continue;
      }
      this.#channels.set(channel.name, channel);
      const from = resumed?.get(channel.name);
      if (from !== undefined) {
        this.#positions.set(channel.name, from);
      } else if (job) {
        // Just before the current state, which is sent next (and replayed from history if the
        // client reconnects before it arrives).
        this.#positions.set(channel.name, job.offset - 1);
        snapshots.push(job);
      } else {
        this.#positions.set(channel.name, head?.offset ?? 0);
      }
    }
    for (const name of this.#channels.keys()) await this.#sendEvent('subscribed', { event: 'subscribed', channel: name });
    for (const name of denied) await this.#deny(name, 'Not the owner of this job');
    for (const job of snapshots) await this.#sendMessage(jobMessage(job));
  }

  #resumePositions(): ResumePositions | undefined {
    const { lastEventId } = this.#request;
    if (lastEventId === undefined || lastEventId === '') return undefined;
    const decoded = decodeResumeToken(lastEventId);
    if (decoded.ok) return decoded.positions;
    // The token is only a position, never a credential: start afresh, as without one.
    this.#deps.log.warn('ignoring a malformed Last-Event-ID', { reason: decoded.reason, length: lastEventId.length });
    return undefined;
  }

  /** Catch-up with the heads read at open, then poll until the end. */
  async #live(openHeads: Map<string, ChannelHead>, deadline: number): Promise<SseEndReason> {
    const { clock, log, channels } = this.#deps;
    const { sink } = this.#request;
    const { pollMinMs, pollMaxMs, heartbeatMs, maxConsecutiveFailures } = this.#options;
    await this.#deliver(openHeads);
    let interval = pollMinMs;
    let nextPoll = clock.now() + interval;
    let failures = 0;
    for (;;) {
      if (sink.closed) return 'closed';
      if (this.#channels.size === 0) return 'no-channels';
      const now = clock.now();
      if (now >= deadline) return 'budget';
      const nextHeartbeat = this.#lastWriteAt + heartbeatMs;
      if (now >= nextHeartbeat) {
        await this.#write(formatComment('heartbeat'));
        continue;
      }
      if (now >= nextPoll) {
        let active = false;
        try {
          active = await this.#deliver(await channels.heads([...this.#channels.keys()]));
          failures = 0;
        } catch (error) {
          if (sink.closed) return 'closed';
          failures++;
          if (failures >= maxConsecutiveFailures) throw error;
          log.warn('sse poll failed', { error, failures });
        }
        interval = active ? pollMinMs : Math.min(pollMaxMs, interval * 2);
        nextPoll = clock.now() + interval;
        continue;
      }
      await this.#sleep(Math.min(nextPoll, nextHeartbeat, deadline) - now, sink.signal);
    }
  }

  /** Delivers what each channel's head says the client lacks; true when there was activity. */
  async #deliver(heads: Map<string, ChannelHead>): Promise<boolean> {
    let active = false;
    for (const channel of [...this.#channels.values()]) {
      if (this.#request.sink.closed) break;
      const head = heads.get(channel.name);
      if (!head) continue;
      if (channel.kind === 'jobs') {
        // Delivery-time check: a subscription made before the job's first event is only
        // followed if the job turns out to be the user's.
        const owner = head.job?.userId;
        if (owner === undefined) continue;
        if (owner !== this.#user) {
          await this.#deny(channel.name, 'Not the owner of this job');
          active = true;
          continue;
        }
      }
      const position = this.#positions.get(channel.name) ?? 0;
      if (head.offset < position) {
        // The channel started over (its head expired and offsets restarted), or the token was
        // not one we wrote: the client's position means nothing any more.
        this.#positions.set(channel.name, 0);
        await this.#recover(channel, head, 'behind the resume position');
        active = true;
      }
      if (head.offset > (this.#positions.get(channel.name) ?? 0)) {
        active = true;
        await this.#catchUp(channel, head);
      } else {
        this.#gapSince.delete(channel.name);
      }
    }
    return active;
  }

  /** Replays history after the client's position, in order, up to the head. */
  async #catchUp(channel: Channel, head: ChannelHead): Promise<void> {
    const { history, clock } = this.#deps;
    const { historyPageSize, historyMaxMessages, gapGraceMs } = this.#options;
    const name = channel.name;
    for (;;) {
      if (this.#request.sink.closed) return;
      const position = this.#positions.get(name);
      if (position === undefined || position >= head.offset) return;
      if (head.offset - position > historyMaxMessages) {
        await this.#recover(channel, head, 'further behind than history keeps');
        return;
      }
      const page = await history.readAfter(name, position, historyPageSize);
      const run = consecutiveAfter(page, position);
      if (run.length === 0) {
        // History does not have position + 1: the fan-out has not written it yet (it moves
        // the head first), or it is gone (expired). Wait a little before calling it lost.
        const now = clock.now();
        const since = this.#gapSince.get(name);
        if (since === undefined) this.#gapSince.set(name, now);
        if (now - (since ?? now) < gapGraceMs) return;
        await this.#recover(channel, head, page.length > 0 ? 'history starts after the position' : 'history is empty');
        return;
      }
      this.#gapSince.delete(name);
      if (channel.kind === 'docs' && !(await this.#stillAllowed(channel))) return;
      for (const message of run) await this.#sendMessage(message);
      // A full page may have more behind it; a hole after the run is handled as a gap.
      if (run.length === page.length && page.length < historyPageSize) return;
    }
  }

  /**
   * History no longer covers what the client missed: a `recovery` event (the client refetches
   * what it shows), then for a job its current state; the stream goes on live from the head.
   */
  async #recover(channel: Channel, head: ChannelHead, why: string): Promise<void> {
    const name = channel.name;
    const position = this.#positions.get(name) ?? 0;
    this.#gapSince.delete(name);
    this.#deps.log.info('sse recovery', { channel: name, position, head: head.offset, why });
    const recovery: RecoveryMessage = { event: 'recovery', channel: name, recovered: false };
    if (channel.kind === 'jobs' && head.job) {
      // The id of `recovery` keeps the old position: a reconnect in between recovers again.
      await this.#sendEvent('recovery', recovery);
      this.#positions.set(name, Math.min(position, head.job.offset - 1));
      await this.#sendMessage(jobMessage(head.job));
      return;
    }
    this.#positions.set(name, head.offset);
    await this.#sendEvent('recovery', recovery);
  }

  /** Document roles can be revoked while the stream runs: checked again before delivering. */
  async #stillAllowed(channel: Channel): Promise<boolean> {
    try {
      await this.#deps.authorizer.authorizeSubscribe(this.#request.identity, channel);
      return true;
    } catch (error) {
      if (!(error instanceof RealtimeError) || error.code !== ErrorCode.PERMISSION_DENIED) throw error;
      await this.#deny(channel.name, error.message);
      return false;
    }
  }

  /** Stops following a channel and tells the client with an `error` naming it. */
  async #deny(name: string, message: string): Promise<void> {
    this.#channels.delete(name);
    this.#positions.delete(name);
    this.#gapSince.delete(name);
    this.#deps.log.info('sse channel refused at delivery', { channel: name });
    await this.#sendEvent('error', errorMessage(permissionDenied(name, message), this.#deps.clock.now()));
  }

  async #sendMessage(message: ChannelMessage): Promise<void> {
    const position = this.#positions.get(message.channel);
    if (position === undefined || message.offset <= position) return;
    this.#positions.set(message.channel, message.offset);
    await this.#sendEvent(message.event, message);
  }

  async #sendEvent(event: string, payload: object): Promise<void> {
    if (this.#request.sink.closed) return;
    this.#eventsSent++;
    await this.#write(formatEvent({ event, id: encodeResumeToken(this.#positions), data: JSON.stringify(payload) }));
  }

  async #write(chunk: string): Promise<void> {
    const { sink } = this.#request;
    if (sink.closed) return;
    await sink.write(chunk);
    this.#lastWriteAt = this.#deps.clock.now();
  }
}

/** The longest run of consecutive offsets right after `position`. */
function consecutiveAfter(page: readonly ChannelMessage[], position: number): ChannelMessage[] {
  const run: ChannelMessage[] = [];
  let expected = position + 1;
  for (const message of page) {
    if (message.offset < expected) continue;
    if (message.offset !== expected) break;
    run.push(message);
    expected++;
  }
  return run;
}

function jobMessage(job: JobState): ChannelMessage {
  return { event: 'job:update', channel: `jobs.${job.jobId}`, offset: job.offset, data: jobUpdateData(job) };
}
