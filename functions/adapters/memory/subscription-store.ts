/**
 * In-memory SubscriptionStore. SINGLE-PROCESS ONLY: state lives in this object, so it suits
 * tests and the local runtime, never more than one Lambda instance. Same observable behaviour
 * as DynamoSubscriptionStore (checked by test/contract/subscription-store.contract.ts):
 * expired subscriptions are absent everywhere and do not count toward the per-connection
 * limit; subscribers of a channel are listed in connection-id order, a page at a time, with
 * an opaque cursor.
 */
import {
  systemClock,
  type AddSubscriptionOutcome,
  type Clock,
  type SubscriberPage,
  type Subscription,
  type SubscriptionStore,
} from '../../domain/ports.ts';
import { copy, isExpired } from './support.ts';

export class MemorySubscriptionStore implements SubscriptionStore {
  private readonly clock: Clock;
  /** connectionId -> channel -> subscription */
  private readonly byConnection = new Map<string, Map<string, Subscription>>();
  /** channel -> connectionId -> subscription */
  private readonly byChannel = new Map<string, Map<string, Subscription>>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  add(subscription: Subscription, maxPerConnection: number): Promise<AddSubscriptionOutcome> {
    const { connectionId, channel } = subscription;
    const mine = this.byConnection.get(connectionId);
    const existing = mine?.get(channel);
    if (existing && this.live(existing)) return Promise.resolve('exists');
    let others = 0;
    for (const [name, sub] of mine ?? []) if (name !== channel && this.live(sub)) others++;
    if (others >= maxPerConnection) return Promise.resolve('limit');
    this.set(copy(subscription));
    return Promise.resolve('added');
  }

  remove(connectionId: string, channel: string): Promise<boolean> {
    const existing = this.byConnection.get(connectionId)?.get(channel);
    this.unset(connectionId, channel);
    return Promise.resolve(existing !== undefined && this.live(existing));
  }

  listByChannel(channel: string, options: { limit: number; cursor?: string }): Promise<SubscriberPage> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    const limit = Math.max(1, Math.floor(options.limit));
    const subscribers = [...(this.byChannel.get(channel)?.values() ?? [])]
      .filter((s) => this.live(s) && (after === undefined || s.connectionId > after))
      .sort((a, b) => compare(a.connectionId, b.connectionId));
    const items = subscribers.slice(0, limit);
    const last = items[items.length - 1];
    const page: SubscriberPage = { items: items.map(copy) };
    if (subscribers.length > limit && last) page.cursor = encodeCursor(last.connectionId);
    return Promise.resolve(page);
  }

  listByConnection(connectionId: string): Promise<Subscription[]> {
    return Promise.resolve(this.liveOf(connectionId).map(copy));
  }

  removeConnection(connectionId: string): Promise<string[]> {
    const channels = this.liveOf(connectionId).map((s) => s.channel);
    for (const channel of [...(this.byConnection.get(connectionId)?.keys() ?? [])]) this.unset(connectionId, channel);
    return Promise.resolve(channels);
  }

  private live(sub: Subscription): boolean {
    return !isExpired(sub.expiresAt, this.clock);
  }

  private liveOf(connectionId: string): Subscription[] {
    return [...(this.byConnection.get(connectionId)?.values() ?? [])]
      .filter((s) => this.live(s))
      .sort((a, b) => compare(a.channel, b.channel));
  }

  private set(sub: Subscription): void {
    let mine = this.byConnection.get(sub.connectionId);
    if (!mine) this.byConnection.set(sub.connectionId, (mine = new Map()));
    mine.set(sub.channel, sub);
    let subscribers = this.byChannel.get(sub.channel);
    if (!subscribers) this.byChannel.set(sub.channel, (subscribers = new Map()));
    subscribers.set(sub.connectionId, sub);
  }

  private unset(connectionId: string, channel: string): void {
    const mine = this.byConnection.get(connectionId);
    mine?.delete(channel);
    if (mine?.size === 0) this.byConnection.delete(connectionId);
    const subscribers = this.byChannel.get(channel);
    subscribers?.delete(connectionId);
    if (subscribers?.size === 0) this.byChannel.delete(channel);
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function encodeCursor(afterConnectionId: string): string {
  return Buffer.from(JSON.stringify({ after: afterConnectionId }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new Error('Invalid page cursor', { cause });
  }
  const after = (parsed as { after?: unknown } | null)?.after;
  if (typeof after !== 'string') throw new Error('Invalid page cursor');
  return after;
}
