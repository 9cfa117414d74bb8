import type { Delivery } from './delivery.ts';
import { ErrorCode, RealtimeError } from './errors.ts';
import type { PresenceMemberData, PresenceMessage, ServerMessage } from './messages.ts';
import {
  PresenceUnavailableError,
  type ConnectionGateway,
  type Identity,
  type Log,
  type Metrics,
  type PresenceDeparture,
  type PresenceJoin,
  type PresenceStore,
  type RateLimiter,
  type SubscriptionStore,
} from './ports.ts';
import type { PresenceMember } from './presence-types.ts';

export interface PresenceOptions {
  /** Cursor/selection updates per second per connection. @default 20 */
  updatesPerSecond?: number;
}

export interface PresenceDeps {
  store: PresenceStore;
  limiter: RateLimiter;
  subscriptions: SubscriptionStore;
  gateway: ConnectionGateway;
  delivery: Delivery;
  log: Log;
  metrics: Metrics;
}

export const presenceChannel = (documentId: string): string => `presence.${documentId}`;

const PAGE = 1000;

/**
 * Presence on `presence.{documentId}`: joining sends the joiner a snapshot and the others a
 * join; updates go to everyone else; a member leaves when their last connection leaves
 * (unsubscribe, disconnect, 410, or 30 s of silence, noticed by the next activity in the
 * document). Who to tell comes from the channel's subscribers in DynamoDB.
 */
export class PresenceService {
  readonly #deps: PresenceDeps;
  readonly #rate: number;

  constructor(deps: PresenceDeps, options: PresenceOptions = {}) {
    this.#deps = deps;
    this.#rate = options.updatesPerSecond ?? 20;
  }

  /** The connection enters the document's presence (before the subscription is acked). */
  enter(connectionId: string, identity: Identity, documentId: string): Promise<PresenceJoin> {
    return this.#guard(
      () =>
        this.#deps.store.join(documentId, {
          connectionId,
          userId: identity.userId,
          name: identity.name ?? identity.userId,
          ...(identity.picture ? { avatar: identity.picture } : {}),
        }),
      documentId,
    );
  }

  /** After the ack: the joiner gets the snapshot, the others the join (for a first tab). */
  async announce(connectionId: string, documentId: string, joined: PresenceJoin): Promise<void> {
    const channel = presenceChannel(documentId);
    await this.#deps.gateway.post(
      connectionId,
      JSON.stringify({ event: 'presence:snapshot', channel, members: joined.members.map(wire) } satisfies ServerMessage),
    );
    if (joined.joined) {
      await this.#broadcast(documentId, { event: 'presence:user-joined', channel, member: wire(joined.member) }, connectionId);
    }
    await this.#announceDepartures(joined.expired);
  }

  /**
   * A cursor/selection update from a connection; never echoed to it. A connection that is
   * still subscribed but expired (a throttled background tab) rejoins first.
   */
  async update(connectionId: string, identity: Identity, message: PresenceMessage): Promise<void> {
    const { limiter, store, metrics, subscriptions } = this.#deps;
    const { documentId } = message;
    const channel = presenceChannel(documentId);
    const allowed = await this.#guard(() => limiter.take(`cursor:${connectionId}`, this.#rate, this.#rate), documentId);
    if (!allowed.allowed) {
      metrics.count('PresenceRateLimited');
      // Dropped; the sender hears about it at most once a second.
      const warn = await this.#guard(() => limiter.take(`cursor-warned:${connectionId}`, 1, 1), documentId);
      if (warn.allowed) {
        throw new RealtimeError(ErrorCode.RATE_LIMIT_EXCEEDED, `At most ${this.#rate} presence updates per second; extra updates are dropped`, {
          channel,
          retryAfterMs: allowed.retryAfterMs ?? 1000,
        });
      }
      return;
    }
    const patch: Parameters<PresenceStore['update']>[2] = {};
    if (message.cursor !== undefined) patch.cursor = message.cursor;
    if (message.selection !== undefined) patch.selection = message.selection;
    let result = await this.#guard(() => store.update(documentId, connectionId, patch), documentId);
    if (!result) {
      // Not present: refused unless the connection is subscribed (then it had expired: rejoin).
      const subscribed = (await subscriptions.listByConnection(connectionId)).some((s) => s.channel === channel);
      if (!subscribed) throw new RealtimeError(ErrorCode.PERMISSION_DENIED, 'Subscribe to the presence channel first', { channel });
      await this.announce(connectionId, documentId, await this.enter(connectionId, identity, documentId));
      result = await this.#guard(() => store.update(documentId, connectionId, patch), documentId);
      if (!result) throw new RealtimeError(ErrorCode.PERMISSION_DENIED, 'Subscribe to the presence channel first', { channel });
    }
    metrics.count('PresenceUpdates');
    const update: ServerMessage = { event: 'presence:update', channel, userId: result.member.userId, lastSeen: result.member.lastSeen };
    if (message.cursor !== undefined) update.cursor = message.cursor;
    if (message.selection !== undefined) update.selection = message.selection;
    await this.#broadcast(documentId, update, connectionId);
    await this.#announceDepartures(result.expired);
  }

  /** A ping: the connection is alive in every document it is in. */
  async heartbeat(connectionId: string): Promise<void> {
    const result = await this.#guard(() => this.#deps.store.touch(connectionId));
    await this.#announceDepartures(result.expired);
  }

  /** Unsubscribe from one document's presence. */
  async leave(connectionId: string, documentId: string): Promise<void> {
    const result = await this.#guard(() => this.#deps.store.leave(documentId, connectionId), documentId);
    // The leaving connection is still subscribed at this point: it is not told about itself.
    await this.#announceDepartures([...(result.left ? [result.left] : []), ...result.expired], connectionId);
  }

  /** Disconnect or 410: the connection leaves every document. */
  async leaveAll(connectionId: string): Promise<void> {
    const result = await this.#guard(() => this.#deps.store.leaveAll(connectionId));
    await this.#announceDepartures([...result.left, ...result.expired]);
  }

  async #announceDepartures(departures: readonly PresenceDeparture[], except?: string): Promise<void> {
    for (const { documentId, userId } of departures) {
      this.#deps.metrics.count('PresenceDepartures');
      await this.#broadcast(documentId, { event: 'presence:user-left', channel: presenceChannel(documentId), userId }, except);
    }
  }

  /** Posts to every subscriber of the document's presence channel but `except`. */
  async #broadcast(documentId: string, message: ServerMessage, except?: string): Promise<void> {
    const channel = presenceChannel(documentId);
    let cursor: string | undefined;
    do {
      const page = await this.#deps.subscriptions.listByChannel(channel, cursor === undefined ? { limit: PAGE } : { limit: PAGE, cursor });
      const targets = page.items.map((s) => s.connectionId).filter((id) => id !== except);
      await this.#deps.delivery.deliver(targets, message);
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** Engine failures become PRESENCE_UNAVAILABLE for the client. */
  async #guard<T>(fn: () => Promise<T>, documentId?: string): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof PresenceUnavailableError) {
        this.#deps.log.warn('presence unavailable', { error });
        throw new RealtimeError(ErrorCode.PRESENCE_UNAVAILABLE, 'Presence is temporarily unavailable; jobs and documents still work', {
          cause: error,
          retryAfterMs: 2000,
          ...(documentId === undefined ? {} : { channel: presenceChannel(documentId) }),
        });
      }
      throw error;
    }
  }
}

function wire(member: PresenceMember): PresenceMemberData {
  return { ...member };
}
