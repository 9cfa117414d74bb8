import { ChannelAuthorizer, type DocumentRoleLookup } from './authorization.ts';
import { parseChannel, type Channel } from './channels.ts';
import type { Delivery } from './delivery.ts';
import { ErrorCode, RealtimeError, channelNotFound, invalidMessage } from './errors.ts';
import { jobUpdateData } from './jobs.ts';
import type { AbuseLimits } from './limits.ts';
import { ClientMessage, LIMITS, describeIssues, type ChannelMessage, type PresenceMessage, type ServerMessage } from './messages.ts';
import type { ChannelStore, Clock, ConnectionGateway, HistoryStore, Identity, Log, Metrics, SubscriptionStore } from './ports.ts';
import type { PresenceService } from './presence.ts';
import { TTL, epochSeconds, isoNow } from './time.ts';
import { errorMessage } from './wire.ts';

/** Who sent a message: known from the `$connect` authorizer, never from the message itself. */
export interface ConnectionContext {
  connectionId: string;
  /** When the connection opened (epoch ms); subscriptions expire with the connection. */
  connectedAt: number;
  identity: Identity;
}

export interface MessageRouterDeps {
  subscriptions: SubscriptionStore;
  channels: ChannelStore;
  gateway: ConnectionGateway;
  authorizer: ChannelAuthorizer;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  maxSubscriptionsPerConnection?: number;
  /** Presence on `presence.*`; without it presence subscriptions and updates are refused. */
  presence?: PresenceService;
  /** Recovery (`since`): channel history, and how many messages of it count. */
  history?: HistoryStore;
  historyMaxMessages?: number;
  /** @default 24 h */
  historyTtlSec?: number;
  /** Document collaboration (`publish` on `docs.*`): roles, history and delivery. */
  documents?: { roles: DocumentRoleLookup; history: HistoryStore; delivery: Delivery; newId: () => string };
  /** Per-connection message rate and per-user subscriptions; without it nothing is limited. */
  limits?: AbuseLimits;
}

/** Who may publish on `docs.*`. */
const PUBLISHERS: ReadonlySet<string> = new Set(['owner', 'editor']);
const PUBLISH_PAGE = 1000;

/**
 * Handles one client frame: validates it, runs the action and replies through the
 * management API. Bad input gets a coded `error`; the connection stays usable.
 */
export class MessageRouter {
  readonly #deps: MessageRouterDeps;
  readonly #maxSubscriptions: number;

  constructor(deps: MessageRouterDeps) {
    this.#deps = deps;
    this.#maxSubscriptions = deps.maxSubscriptionsPerConnection ?? LIMITS.maxSubscriptionsPerConnection;
  }

  async handle(ctx: ConnectionContext, body: string): Promise<void> {
    this.#deps.metrics.count('MessagesReceived');
    // Validate first (no I/O), so the limits below know what the frame is.
    let requestId: string | undefined;
    let message: ClientMessage | undefined;
    let invalid: unknown;
    try {
      const raw = parseFrame(body);
      requestId = echoableRequestId(raw);
      if (depthOf(raw) > LIMITS.maxJsonDepth) throw invalidMessage(`message nests deeper than ${LIMITS.maxJsonDepth} levels`);
      const parsed = ClientMessage.safeParse(raw);
      if (!parsed.success) throw invalidMessage(describeIssues(parsed.error.issues));
      message = parsed.data;
    } catch (error) {
      invalid = error;
    }
    // Every frame costs a token of the connection's bucket, garbage included, except valid
    // presence updates: they take from their own bucket (PRESENCE_UPDATES_PER_SECOND), whose
    // warnings count towards the close (see #strike).
    if (this.#deps.limits && message?.action !== 'presence' && !(await this.#admit(ctx, requestId))) return;
    try {
      if (message === undefined) throw invalid;
      switch (message.action) {
        case 'ping':
          await this.#send(ctx, { event: 'pong', ...rid(message.requestId), timestamp: isoNow(this.#deps.clock.now()) });
          await this.#heartbeat(ctx);
          return;
        case 'subscribe':
          await this.#subscribe(ctx, message.channel, message.requestId, message.since);
          return;
        case 'unsubscribe':
          await this.#unsubscribe(ctx, message.channel, message.requestId);
          return;
        case 'presence':
          try {
            await this.#presence().update(ctx.connectionId, ctx.identity, message);
          } catch (error) {
            if (!(error instanceof RealtimeError && error.code === ErrorCode.RATE_LIMIT_EXCEEDED)) throw error;
            // The presence bucket warns at most once a second: each warning is a strike.
            await this.#fail(ctx, error, requestId);
            await this.#strike(ctx, error.retryAfterMs ?? 1000);
          }
          return;
        case 'publish':
          await this.#publish(ctx, message.channel, message.data, message.requestId);
          return;
      }
    } catch (error) {
      await this.#fail(ctx, error, requestId);
    }
  }

  async #subscribe(ctx: ConnectionContext, name: string, requestId: string | undefined, since?: number): Promise<void> {
    const { subscriptions, channels, authorizer, clock, log, metrics } = this.#deps;
    const channel = parseChannel(name);
    if (!channel) throw channelNotFound(name);
    try {
      await authorizer.authorizeSubscribe(ctx.identity, channel);
    } catch (error) {
      if (error instanceof RealtimeError && error.code === ErrorCode.PERMISSION_DENIED) metrics.count('SubscriptionsDenied');
      throw error;
    }
    const { limits } = this.#deps;
    if (limits && !(await limits.acquireSubscription(ctx.identity.userId, ctx.connectionId, channel.name, ctx.connectedAt))) {
      throw new RealtimeError(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        `A user may hold at most ${limits.config.maxSubscriptionsPerUser} subscriptions across their connections`,
        { channel: channel.name },
      );
    }
    const now = clock.now();
    const outcome = await subscriptions.add(
      {
        connectionId: ctx.connectionId,
        channel: channel.name,
        userId: ctx.identity.userId,
        subscribedAt: now,
        expiresAt: epochSeconds(ctx.connectedAt) + TTL.connectionSec,
      },
      this.#maxSubscriptions,
    );
    if (outcome === 'limit') {
      await limits?.releaseSubscription(ctx.identity.userId, ctx.connectionId, channel.name);
      throw new RealtimeError(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        `A connection may hold at most ${this.#maxSubscriptions} subscriptions`,
        { channel: channel.name },
      );
    }
    // Presence: enter before the ack, so a failure leaves no subscription behind.
    let joined: Awaited<ReturnType<PresenceService['enter']>> | undefined;
    if (channel.kind === 'presence') {
      try {
        joined = await this.#presence().enter(ctx.connectionId, ctx.identity, channel.id);
      } catch (error) {
        if (outcome === 'added') {
          await subscriptions.remove(ctx.connectionId, channel.name);
          await limits?.releaseSubscription(ctx.identity.userId, ctx.connectionId, channel.name);
        }
        throw error;
      }
    }
    if (outcome === 'added') metrics.count('Subscriptions');
    log.info('subscribed', { channel: channel.name, outcome, since });

    // Recovery: what the client missed after `since`, read after the subscription is stored so
    // nothing falls between the replay and the live messages (a live message may repeat or
    // overtake a replayed one; clients keep the highest offset and drop what they have seen).
    const replay = since === undefined ? undefined : await this.#replay(ctx, channel, since);
    await this.#send(ctx, {
      event: 'subscribed',
      channel: channel.name,
      ...rid(requestId),
      ...(replay ? { recovered: replay.recovered } : {}),
    });
    if (joined) await this.#presence().announce(ctx.connectionId, channel.id, joined);
    for (const message of replay?.messages ?? []) await this.#send(ctx, message);

    if (channel.kind === 'jobs' && !replay?.recovered) {
      // Read after the subscription is stored: an update applied in between reaches us either
      // through the fan-out or here, and the client drops an offset it has already seen.
      const job = await channels.getJob(channel.id);
      if (job && job.userId === ctx.identity.userId) {
        await this.#send(ctx, { event: 'job:update', channel: channel.name, offset: job.offset, data: jobUpdateData(job) });
      }
    }
  }

  /**
   * The messages after `since`, when history still holds every one of them (the last
   * `historyMaxMessages` of the channel, within the history TTL); otherwise `recovered: false`
   * and the client refetches (for jobs, the current state follows).
   */
  async #replay(ctx: ConnectionContext, channel: Channel, since: number): Promise<{ recovered: boolean; messages: ChannelMessage[] }> {
    const { channels, history } = this.#deps;
    if (!history) return { recovered: false, messages: [] };
    const head = (await channels.heads([channel.name])).get(channel.name);
    const last = head?.offset ?? 0;
    if (since === last) return { recovered: true, messages: [] };
    const window = this.#deps.historyMaxMessages ?? LIMITS.historyMaxMessages;
    if (since > last || last - since > window) return { recovered: false, messages: [] };
    if (channel.kind === 'jobs' && head?.job && head.job.userId !== ctx.identity.userId) return { recovered: false, messages: [] };
    const messages = await history.readAfter(channel.name, since, last - since);
    const complete = messages.length === last - since && messages.every((m, i) => m.offset === since + 1 + i);
    return complete ? { recovered: true, messages } : { recovered: false, messages: [] };
  }

  async #unsubscribe(ctx: ConnectionContext, name: string, requestId: string | undefined): Promise<void> {
    const channel = parseChannel(name);
    if (!channel) throw channelNotFound(name);
    // Presence first: if it cannot be left, the subscription stays and the client is told, so
    // presence and subscription never disagree (a member whose pings kept it present forever).
    if (channel.kind === 'presence' && this.#deps.presence) await this.#deps.presence.leave(ctx.connectionId, channel.id);
    await this.#deps.subscriptions.remove(ctx.connectionId, channel.name);
    await this.#deps.limits?.releaseSubscription(ctx.identity.userId, ctx.connectionId, channel.name);
    await this.#send(ctx, { event: 'unsubscribed', channel: channel.name, ...rid(requestId) });
  }

  /** A ping keeps the connection present in its documents; presence trouble never fails it. */
  async #heartbeat(ctx: ConnectionContext): Promise<void> {
    if (!this.#deps.presence) return;
    try {
      await this.#deps.presence.heartbeat(ctx.connectionId);
    } catch (error) {
      this.#deps.log.warn('presence heartbeat failed', { error });
    }
  }

  #presence(): PresenceService {
    if (!this.#deps.presence) throw new RealtimeError(ErrorCode.PRESENCE_UNAVAILABLE, 'Presence is not configured');
    return this.#deps.presence;
  }

  /** `publish` on `docs.{id}` by an owner or editor: a new offset, history, the other subscribers. */
  async #publish(ctx: ConnectionContext, name: string, data: unknown, requestId: string | undefined): Promise<void> {
    const channel = parseChannel(name);
    if (!channel) throw channelNotFound(name);
    if (channel.kind !== 'docs') throw new RealtimeError(ErrorCode.PERMISSION_DENIED, 'Clients publish only on docs channels', { channel: name });
    const documents = this.#documents(channel);
    const role = await documents.roles.roleOf(channel.id, ctx.identity.userId);
    if (!role || !PUBLISHERS.has(role)) {
      throw new RealtimeError(ErrorCode.PERMISSION_DENIED, 'Only owners and editors may publish on this document', { channel: name });
    }
    if (data === undefined) throw invalidMessage('data is required');
    if (Buffer.byteLength(JSON.stringify(data), 'utf8') > LIMITS.maxPublishDataBytes) {
      throw invalidMessage(`data is larger than ${LIMITS.maxPublishDataBytes} bytes`);
    }
    const { channels, clock, metrics, subscriptions } = this.#deps;
    const { offset } = await channels.advance(name, documents.newId(), epochSeconds(clock.now()) + TTL.channelHeadSec);
    const message: ChannelMessage = { event: 'doc:event', channel: name, offset, userId: ctx.identity.userId, data };
    await documents.history.append(name, message, epochSeconds(clock.now()) + (this.#deps.historyTtlSec ?? TTL.historySec));
    await this.#send(ctx, { event: 'published', channel: name, offset, ...rid(requestId) });
    metrics.count('DocumentEventsPublished');
    // Document channels are small (the people in one deck): deliver every page here.
    let cursor: string | undefined;
    do {
      const page = await subscriptions.listByChannel(name, cursor === undefined ? { limit: PUBLISH_PAGE } : { limit: PUBLISH_PAGE, cursor });
      await documents.delivery.deliver(
        page.items.map((s) => s.connectionId).filter((id) => id !== ctx.connectionId),
        message,
      );
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  #documents(channel: Channel): NonNullable<MessageRouterDeps['documents']> {
    if (!this.#deps.documents) throw new RealtimeError(ErrorCode.PERMISSION_DENIED, 'Document events are not configured', { channel: channel.name });
    return this.#deps.documents;
  }

  /**
   * Takes the frame's token. A refused frame is answered RATE_LIMIT_EXCEEDED with retryAfterMs
   * (and its requestId when readable); when the connection has used up its warnings it is told
   * so and closed with DeleteConnection (API Gateway then closes the socket with 1000: a Lambda
   * cannot choose the close code, so the reason travels in this last message).
   */
  async #admit(ctx: ConnectionContext, requestId: string | undefined): Promise<boolean> {
    const { limits, log, clock } = this.#deps;
    const verdict = await limits!.checkMessage(ctx.connectionId);
    if (verdict.allowed) return true;
    const message = verdict.close
      ? 'Too many messages after repeated warnings: the connection is being closed'
      : `Too many messages: at most ${limits!.config.messagesPerSecond} a second (bursts of ${limits!.config.messageBurst})`;
    try {
      await this.#send(ctx, errorMessage(new RealtimeError(ErrorCode.RATE_LIMIT_EXCEEDED, message, { retryAfterMs: verdict.retryAfterMs }), clock.now(), requestId));
    } catch (error) {
      log.warn('could not send rate limit reply', { error });
    }
    if (verdict.close) await this.#close(ctx);
    return false;
  }

  /** A warning outside the message bucket (presence); closes the connection when it is the last. */
  async #strike(ctx: ConnectionContext, retryAfterMs: number): Promise<void> {
    if (!this.#deps.limits || !(await this.#deps.limits.strike(ctx.connectionId))) return;
    const { clock, log } = this.#deps;
    const error = new RealtimeError(ErrorCode.RATE_LIMIT_EXCEEDED, 'Too many messages after repeated warnings: the connection is being closed', { retryAfterMs });
    try {
      await this.#send(ctx, errorMessage(error, clock.now()));
    } catch (sendError) {
      log.warn('could not send rate limit reply', { error: sendError });
    }
    await this.#close(ctx);
  }

  async #close(ctx: ConnectionContext): Promise<void> {
    const { log, metrics, gateway } = this.#deps;
    metrics.count('ConnectionsClosedForFlooding');
    log.warn('closing a connection that kept exceeding its rate limits');
    try {
      await gateway.disconnect(ctx.connectionId);
    } catch (error) {
      log.error('could not close a flooding connection', { error });
    }
  }

  async #fail(ctx: ConnectionContext, error: unknown, requestId: string | undefined): Promise<void> {
    const { log, metrics, clock } = this.#deps;
    let reply: ServerMessage;
    if (error instanceof RealtimeError) {
      if (error.code === ErrorCode.INVALID_MESSAGE) metrics.count('InvalidMessages');
      log.info('request refused', { code: error.code, reason: error.message, channel: error.channel });
      reply = errorMessage(error, clock.now(), requestId);
    } else {
      log.error('request failed', { error });
      reply = errorMessage(new RealtimeError(ErrorCode.INTERNAL, 'Internal error, try again'), clock.now(), requestId);
    }
    try {
      await this.#send(ctx, reply);
    } catch (sendError) {
      log.error('could not send error reply', { error: sendError });
    }
  }

  async #send(ctx: ConnectionContext, message: ServerMessage): Promise<void> {
    await this.#deps.gateway.post(ctx.connectionId, JSON.stringify(message));
  }
}

const rid = (requestId: string | undefined): { requestId?: string } => (requestId === undefined ? {} : { requestId });

/** Parses a frame, refusing oversize bodies, non-JSON and non-objects. */
function parseFrame(body: string): unknown {
  if (Buffer.byteLength(body, 'utf8') > LIMITS.maxClientMessageBytes) {
    throw invalidMessage(`message is larger than ${LIMITS.maxClientMessageBytes} bytes`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw invalidMessage('message is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidMessage('message must be a JSON object');
  return raw;
}

function depthOf(value: unknown, depth = 1): number {
  if (typeof value !== 'object' || value === null) return depth - 1;
  if (depth > LIMITS.maxJsonDepth) return depth;
  let max = depth;
  for (const child of Object.values(value)) max = Math.max(max, depthOf(child, depth + 1));
  return max;
}

/** A requestId is echoed on errors only when it is itself well-formed. */
function echoableRequestId(raw: unknown): string | undefined {
  const value = (raw as { requestId?: unknown }).requestId;
  return typeof value === 'string' && value.length > 0 && value.length <= LIMITS.maxRequestIdLength ? value : undefined;
}
