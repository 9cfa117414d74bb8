/**
 * Abuse limits, shared by every Lambda through the RateLimiter and SlotLimiter ports (Redis on
 * AWS, memory in tests and the local runtime):
 *
 *   - per connection, a token bucket on inbound messages (`messageBurst` tokens, refilled at
 *     `messagesPerSecond`); a refused message is answered RATE_LIMIT_EXCEEDED with
 *     retryAfterMs, and a connection refused more than `warningsBeforeClose` times within about
 *     a minute is told so and closed (a second bucket, of warnings, refilled over a minute);
 *   - per source IP, new connections per minute (a bucket of `connectionsPerIpPerMinute`
 *     refilled over a minute);
 *   - per user, concurrent connections and subscriptions (slots that expire with the connection,
 *     so a lost `$disconnect` heals itself).
 *
 * Every check fails open: when the limiter cannot answer (Redis down) the request goes through,
 * counted as RateLimitFailOpen and logged. The limits protect the service and the bill; a
 * Redis outage must not also take down jobs and notifications, which do not need Redis.
 */
import type { Clock, Log, Metrics, RateLimiter, SlotLimiter } from './ports.ts';

export interface LimitsConfig {
  /** Bucket capacity per connection (`RATE_LIMIT_MESSAGE_BURST`, 100). */
  messageBurst: number;
  /** Bucket refill per connection (`RATE_LIMIT_MESSAGES_PER_SECOND`, 10). */
  messagesPerSecond: number;
  /** Refusals a connection may collect within a minute before it is closed (`RATE_LIMIT_WARNINGS_BEFORE_CLOSE`, 10). */
  warningsBeforeClose: number;
  /** New connections per source IP per minute (`RATE_LIMIT_CONNECTIONS_PER_IP`, 100). */
  connectionsPerIpPerMinute: number;
  /** Open connections per user (`MAX_CONNECTIONS_PER_USER`, 20). */
  maxConnectionsPerUser: number;
  /** Subscriptions per user across their connections (`MAX_SUBSCRIPTIONS_PER_USER`, 500). */
  maxSubscriptionsPerUser: number;
}

export const DEFAULT_LIMITS: LimitsConfig = {
  messageBurst: 100,
  messagesPerSecond: 10,
  warningsBeforeClose: 10,
  connectionsPerIpPerMinute: 100,
  maxConnectionsPerUser: 20,
  maxSubscriptionsPerUser: 500,
};

/** API Gateway ends every WebSocket after 2 hours: no slot needs to outlive that. */
export const MAX_CONNECTION_MS = 2 * 60 * 60 * 1000;
const SLOT_MARGIN_MS = 60_000;

export type MessageVerdict =
  | { allowed: true }
  /** Refused; `close` when this refusal used up the warnings and the connection must end. */
  | { allowed: false; retryAfterMs: number; close: boolean };

export type ConnectVerdict = { allowed: true } | { allowed: false; limit: 'ip' | 'user'; retryAfterMs?: number };

export interface LimitsDeps {
  rateLimiter: RateLimiter;
  slots: SlotLimiter;
  clock: Clock;
  log: Log;
  metrics: Metrics;
}

export class AbuseLimits {
  readonly config: LimitsConfig;
  readonly #deps: LimitsDeps;

  constructor(deps: LimitsDeps, config: Partial<LimitsConfig> = {}) {
    this.#deps = deps;
    this.config = { ...DEFAULT_LIMITS, ...config };
  }

  /** One inbound message on a connection. */
  async checkMessage(connectionId: string): Promise<MessageVerdict> {
    const { messageBurst, messagesPerSecond } = this.config;
    const taken = await this.#failOpen('message', () => this.#deps.rateLimiter.take(`msg:${connectionId}`, messageBurst, messagesPerSecond));
    if (!taken || taken.allowed) return { allowed: true };
    this.#deps.metrics.count('MessagesRateLimited');
    const retryAfterMs = taken.retryAfterMs ?? Math.ceil(1000 / messagesPerSecond);
    return { allowed: false, retryAfterMs, close: await this.strike(connectionId) };
  }

  /**
   * Records one warning given to a connection; true when it had no warning left (more than
   * `warningsBeforeClose` within about a minute): close it.
   */
  async strike(connectionId: string): Promise<boolean> {
    const { warningsBeforeClose } = this.config;
    const warned = await this.#failOpen('warning', () =>
      this.#deps.rateLimiter.take(`warn:${connectionId}`, warningsBeforeClose, warningsBeforeClose / 60),
    );
    return warned !== undefined && !warned.allowed;
  }

  /** A new connection from `sourceIp` for `userId`: takes an IP token and a user slot. */
  async admitConnection(input: { connectionId: string; userId: string; sourceIp?: string; connectedAt: number }): Promise<ConnectVerdict> {
    const { connectionsPerIpPerMinute, maxConnectionsPerUser } = this.config;
    if (input.sourceIp) {
      const ip = input.sourceIp;
      const taken = await this.#failOpen('connection ip', () =>
        this.#deps.rateLimiter.take(`ip:${ip}`, connectionsPerIpPerMinute, connectionsPerIpPerMinute / 60),
      );
      if (taken && !taken.allowed) return this.#refused({ allowed: false, limit: 'ip', ...retry(taken.retryAfterMs) });
    }
    const held = await this.#failOpen('connection user', () =>
      this.#deps.slots.acquire(`conn:${input.userId}`, input.connectionId, maxConnectionsPerUser, slotExpiry(input.connectedAt)),
    );
    if (held === false) return this.#refused({ allowed: false, limit: 'user' });
    return { allowed: true };
  }

  /** Frees the connection's slot and every subscription slot it still holds. */
  async releaseConnection(userId: string, connectionId: string): Promise<void> {
    await this.#failOpen('release connection', () => this.#deps.slots.release(`conn:${userId}`, [connectionId]));
    // By prefix, not by the channels the connection still had: a delivery that found it gone
    // (410) or a revocation may have removed its subscriptions first.
    await this.#failOpen('release subscriptions', () => this.#deps.slots.releasePrefix(`subs:${userId}`, subscriptionMember(connectionId, '')));
  }

  /** False when the user already holds `maxSubscriptionsPerUser` subscriptions. */
  async acquireSubscription(userId: string, connectionId: string, channel: string, connectedAt: number): Promise<boolean> {
    const { maxSubscriptionsPerUser } = this.config;
    const held = await this.#failOpen('subscription', () =>
      this.#deps.slots.acquire(`subs:${userId}`, subscriptionMember(connectionId, channel), maxSubscriptionsPerUser, slotExpiry(connectedAt)),
    );
    return held !== false;
  }

  async releaseSubscription(userId: string, connectionId: string, channel: string): Promise<void> {
    await this.#failOpen('release subscription', () => this.#deps.slots.release(`subs:${userId}`, [subscriptionMember(connectionId, channel)]));
  }

  #refused(verdict: ConnectVerdict): ConnectVerdict {
    this.#deps.metrics.count('ConnectionsRefused');
    return verdict;
  }

  /** Runs a limiter call; on any failure logs, counts and answers undefined (let it through). */
  async #failOpen<T>(check: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (error) {
      this.#deps.metrics.count('RateLimitFailOpen');
      this.#deps.log.warn('limit not checked, letting the request through', { check, error });
      return undefined;
    }
  }
}

const slotExpiry = (connectedAt: number): number => connectedAt + MAX_CONNECTION_MS + SLOT_MARGIN_MS;
const subscriptionMember = (connectionId: string, channel: string): string => `${connectionId} ${channel}`;
const retry = (ms: number | undefined): { retryAfterMs?: number } => (ms === undefined ? {} : { retryAfterMs: ms });
