import type { ServerMessage } from './messages.ts';
import {
  GatewayThrottledError,
  type Clock,
  type ConnectionGateway,
  type ConnectionStore,
  type Log,
  type Metrics,
  type SubscriptionStore,
} from './ports.ts';

export interface DeliveryOptions {
  /** Posts in flight at once per delivery. @default 50 */
  concurrency?: number;
  /** Attempts per post when throttled or failing. @default 5 */
  maxAttempts?: number;
  /** First backoff; doubles each attempt, with full jitter. @default 50 */
  baseBackoffMs?: number;
  /** @default 2000 */
  maxBackoffMs?: number;
}

export interface DeliveryDeps {
  gateway: ConnectionGateway;
  subscriptions: SubscriptionStore;
  connections: ConnectionStore;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Runs after a gone connection was pruned (presence uses it to let the member leave). */
  afterPrune?: (connectionId: string) => Promise<void>;
}

export interface DeliveryReport {
  delivered: number;
  pruned: number;
  failed: number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Posts one message to many connections with bounded concurrency. A connection that answers
 * 410 Gone is pruned with its subscriptions; throttled or failing posts are retried with
 * exponential backoff and full jitter; a post that still fails is counted and logged and does
 * not hold up the others.
 */
export class Delivery {
  readonly #deps: DeliveryDeps;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #baseBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(deps: DeliveryDeps, options: DeliveryOptions = {}) {
    this.#deps = deps;
    this.#concurrency = Math.max(1, options.concurrency ?? 50);
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.#baseBackoffMs = options.baseBackoffMs ?? 50;
    this.#maxBackoffMs = options.maxBackoffMs ?? 2000;
    this.#sleep = deps.sleep ?? defaultSleep;
    this.#random = deps.random ?? Math.random;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  async deliver(connectionIds: readonly string[], message: ServerMessage, publishedAt?: string): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: 0, pruned: 0, failed: 0 };
    if (connectionIds.length === 0) return report;
    const payload = JSON.stringify(message);
    const publishedMs = publishedAt ? Date.parse(publishedAt) : Number.NaN;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < connectionIds.length) {
        const connectionId = connectionIds[next++] as string;
        const outcome = await this.#postWithRetry(connectionId, payload, message);
        report[outcome]++;
        if (outcome === 'delivered' && !Number.isNaN(publishedMs)) {
          this.#deps.metrics.timing('DeliveryLatency', Math.max(0, this.#deps.clock.now() - publishedMs));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, connectionIds.length) }, worker));
    const { metrics } = this.#deps;
    if (report.delivered) metrics.count('MessagesDelivered', report.delivered);
    if (report.pruned) metrics.count('StaleConnectionsPruned', report.pruned);
    if (report.failed) metrics.count('DeliveryFailures', report.failed);
    return report;
  }

  /** Removes a connection that API Gateway no longer knows, and everything that points at it. */
  async prune(connectionId: string): Promise<void> {
    await this.#deps.subscriptions.removeConnection(connectionId);
    await this.#deps.connections.delete(connectionId);
    await this.#deps.afterPrune?.(connectionId);
  }

  async #postWithRetry(
    connectionId: string,
    payload: string,
    message: ServerMessage,
  ): Promise<keyof DeliveryReport> {
    const { gateway, log, metrics } = this.#deps;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await gateway.post(connectionId, payload);
        if (outcome === 'ok') return 'delivered';
        log.info('pruning stale connection', { connectionId, event: message.event });
        try {
          await this.prune(connectionId);
          return 'pruned';
        } catch (error) {
          // The TTL is the backstop; the next post to it will try again.
          log.warn('pruning failed', { connectionId, error });
          return 'failed';
        }
      } catch (error) {
        if (attempt >= this.#maxAttempts) {
          log.error('delivery failed', { connectionId, event: message.event, ...('offset' in message ? { offset: message.offset } : {}), attempts: attempt, error });
          return 'failed';
        }
        metrics.count('DeliveryRetries');
        if (!(error instanceof GatewayThrottledError)) {
          log.warn('post failed, retrying', { connectionId, attempt, error });
        }
        const ceiling = Math.min(this.#maxBackoffMs, this.#baseBackoffMs * 2 ** (attempt - 1));
        await this.#sleep(Math.floor(this.#random() * ceiling));
      }
    }
  }
}
