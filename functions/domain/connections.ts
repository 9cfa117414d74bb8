import type { ConnectionStore, Identity, Log, Metrics, SubscriptionStore } from './ports.ts';
import { TTL, epochSeconds } from './time.ts';

export interface ConnectInput {
  connectionId: string;
  identity: Identity;
  connectedAt: number;
  sourceIp?: string;
  userAgent?: string;
}

/** `$connect` and `$disconnect`. `$disconnect` is best-effort on AWS: TTLs and 410 pruning back it up. */
export class ConnectionService {
  readonly #deps: { connections: ConnectionStore; subscriptions: SubscriptionStore; log: Log; metrics: Metrics };

  constructor(deps: { connections: ConnectionStore; subscriptions: SubscriptionStore; log: Log; metrics: Metrics }) {
    this.#deps = deps;
  }

  async connect(input: ConnectInput): Promise<void> {
    const { identity } = input;
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
    this.#deps.metrics.count('ConnectionsOpened');
    this.#deps.log.info('connected', { sourceIp: input.sourceIp });
  }

  async disconnect(connectionId: string, reason?: { statusCode?: number; reason?: string }): Promise<void> {
    const channels = await this.#deps.subscriptions.removeConnection(connectionId);
    await this.#deps.connections.delete(connectionId);
    this.#deps.metrics.count('ConnectionsClosed');
    this.#deps.log.info('disconnected', { subscriptions: channels.length, ...reason });
  }
}
