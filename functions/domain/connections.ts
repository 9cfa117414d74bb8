import type { AbuseLimits, ConnectVerdict } from './limits.ts';
import type { ConnectionStore, Identity, Log, Metrics, SubscriptionStore } from './ports.ts';
import type { PresenceService } from './presence.ts';
import { TTL, epochSeconds } from './time.ts';

export interface ConnectInput {
  connectionId: string;
  identity: Identity;
  connectedAt: number;
  sourceIp?: string;
  userAgent?: string;
}

export interface ConnectionServiceDeps {
  connections: ConnectionStore;
  subscriptions: SubscriptionStore;
  log: Log;
  metrics: Metrics;
  /** When present, a disconnect also leaves every document's presence. */
  presence?: PresenceService;
  /** Per-IP connection rate and per-user connections; without it nothing is limited. */
  limits?: AbuseLimits;
}

/** `$connect` and `$disconnect`. `$disconnect` is best-effort on AWS: TTLs and 410 pruning back it up. */
export class ConnectionService {
  readonly #deps: ConnectionServiceDeps;

  constructor(deps: ConnectionServiceDeps) {
    this.#deps = deps;
  }

  /** Records the connection, unless a limit refuses it (nothing is recorded then). */
  async connect(input: ConnectInput): Promise<ConnectVerdict> {
    const { identity } = input;
    const { limits } = this.#deps;
    if (limits) {
      const verdict = await limits.admitConnection({
        connectionId: input.connectionId,
        userId: identity.userId,
        connectedAt: input.connectedAt,
        ...(input.sourceIp === undefined ? {} : { sourceIp: input.sourceIp }),
      });
      if (!verdict.allowed) {
        this.#deps.log.warn('connection refused', { limit: verdict.limit, sourceIp: input.sourceIp });
        return verdict;
      }
    }
    try {
      await this.#deps.connections.put({
        connectionId: input.connectionId,
        userId: identity.userId,
        ...(identity.name === undefined ? {} : { name: identity.name }),
        ...(identity.picture === undefined ? {} : { picture: identity.picture }),
        connectedAt: input.connectedAt,
        ...(input.sourceIp === undefined ? {} : { sourceIp: input.sourceIp }),
        ...(input.userAgent === undefined ? {} : { userAgent: input.userAgent }),
        expiresAt: epochSeconds(input.connectedAt) + TTL.connectionSec,
      });
    } catch (error) {
      // The connection is refused (API Gateway answers 500): it must not hold a user slot.
      await limits?.releaseConnection(identity.userId, input.connectionId);
      throw error;
    }
    this.#deps.metrics.count('ConnectionsOpened');
    this.#deps.log.info('connected', { sourceIp: input.sourceIp });
    return { allowed: true };
  }

  /** `userId` (from the authorizer context) frees the user's slots; read from the record when absent. */
  async disconnect(connectionId: string, reason?: { statusCode?: number; reason?: string }, userId?: string): Promise<void> {
    const { limits } = this.#deps;
    const owner = limits ? (userId ?? (await this.#deps.connections.get(connectionId))?.userId) : undefined;
    const channels = await this.#deps.subscriptions.removeConnection(connectionId);
    if (limits && owner !== undefined) await limits.releaseConnection(owner, connectionId);
    await this.#deps.connections.delete(connectionId);
    this.#deps.metrics.count('ConnectionsClosed');
    this.#deps.log.info('disconnected', { subscriptions: channels.length, ...reason });
    if (this.#deps.presence && channels.some((c) => c.startsWith('presence.'))) {
      try {
        await this.#deps.presence.leaveAll(connectionId);
      } catch (error) {
        // The connection is gone either way; its presence expires on its own.
        this.#deps.log.warn('presence leave on disconnect failed', { error });
      }
    }
  }
}
