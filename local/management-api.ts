/**
 * The API Gateway management API (`@connections`) on the runtime's port, as
 * `/{stage}/@connections/{connectionId}`: POST sends a text frame, GET describes the connection,
 * DELETE closes it. Errors carry `x-amzn-errortype` so the AWS SDK raises GoneException,
 * PayloadTooLargeException, LimitExceededException... Latency and faults can be injected for
 * tests and benchmarks.
 */
import type { WebSocketGateway } from './websocket-gateway.ts';
import type { RuntimeLog } from './log.ts';
import { readBody, sendEmpty, sendJson, type Route, type RouteRequest } from './http-router.ts';
import type { Timers } from './util.ts';

export type ManagementOperation = 'post' | 'get' | 'delete';

/** What an injected fault answers instead of the real operation. */
export interface InjectedFault {
  status: number;
  /** `x-amzn-errortype`, e.g. LimitExceededException; defaults by status. */
  errorType?: string;
  message?: string;
}

/**
 * Called before each call; `attempt` counts this operation's calls for the connection (1, 2, ...),
 * so `attempt === 1 ? { status: 429, errorType: 'LimitExceededException' } : undefined` throttles
 * once and lets the SDK's retry through.
 */
export type FaultInjector = (connectionId: string, attempt: number, operation: ManagementOperation) => InjectedFault | undefined;

export interface ManagementStats {
  /** POST calls received (every attempt, whatever the answer). */
  posts: number;
  /** POSTs that reached the socket. */
  delivered: number;
  /** 410 answers. */
  gone: number;
  /** 429 answers. */
  throttled: number;
  /** Other injected failures (5xx, ...). */
  failed: number;
  /** 413 answers. */
  tooLarge: number;
  gets: number;
  deletes: number;
}

export interface ManagementApiOptions {
  stage: string;
  gateway: WebSocketGateway;
  /** Largest PostToConnection payload: 128 KB. */
  maxPayloadBytes: number;
  latencyMs: number;
  timers: Timers;
  log: RuntimeLog;
}

const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestException',
  403: 'ForbiddenException',
  410: 'GoneException',
  413: 'PayloadTooLargeException',
  429: 'LimitExceededException',
};

export class ManagementApi {
  /** Added to every call (e.g. 25 to emulate PostToConnection's latency in a benchmark). */
  latencyMs: number;
  readonly stats: ManagementStats = { posts: 0, delivered: 0, gone: 0, throttled: 0, failed: 0, tooLarge: 0, gets: 0, deletes: 0 };
  /**
   * Bench only, default off: a POST to a connection the gateway does not hold is answered 200
   * (and counted in `stats.delivered` and `syntheticPosts`) instead of 410, after the same
   * latency. bench/run.ts seeds 50,000 subscriptions of such synthetic connections to measure
   * the fan-out itself where 50,000 real sockets do not fit on one machine.
   */
  acceptUnknownConnections = false;
  syntheticPosts = 0;
  readonly #o: ManagementApiOptions;
  readonly #attempts = new Map<string, number>();
  #faults: FaultInjector | undefined;

  constructor(options: ManagementApiOptions) {
    this.#o = options;
    this.latencyMs = options.latencyMs;
  }

  /** Installs (or with undefined removes) a fault injector. */
  injectFaults(fn: FaultInjector | undefined): void {
    this.#faults = fn;
    this.#attempts.clear();
  }

  resetStats(): void {
    for (const k of Object.keys(this.stats) as (keyof ManagementStats)[]) this.stats[k] = 0;
  }

  route(): Route {
    const stage = this.#o.stage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return {
      name: 'management',
      methods: ['POST', 'GET', 'DELETE'],
      path: new RegExp(`^/${stage}/@connections/(?<connectionId>[^/]+)$`),
      handle: (request) => this.#handle(request),
    };
  }

  async #handle({ req, res, params }: RouteRequest): Promise<void> {
    const connectionId = params['connectionId'] ?? '';
    const method = req.method ?? 'GET';
    const operation: ManagementOperation = method === 'POST' ? 'post' : method === 'DELETE' ? 'delete' : 'get';
    // Read the whole body first: the SDK sends it before waiting for the answer.
    const body = await readBody(req);
    if (operation === 'post') this.stats.posts++;
    else if (operation === 'get') this.stats.gets++;
    else this.stats.deletes++;

    if (this.latencyMs > 0) await this.#o.timers.sleep(this.latencyMs);

    const attempt = this.#faults ? this.#nextAttempt(operation, connectionId) : 0;
    const fault = this.#faults?.(connectionId, attempt, operation);
    if (fault) {
      this.#o.log.debug('injected fault', { connectionId, operation, attempt, status: fault.status });
      if (fault.status === 429) this.stats.throttled++;
      else if (fault.status === 410) this.stats.gone++;
      else this.stats.failed++;
      this.#error(res, fault.status, fault.errorType ?? DEFAULT_ERROR_TYPES[fault.status], fault.message);
      return;
    }

    const { gateway } = this.#o;
    switch (operation) {
      case 'post': {
        if (body.length > this.#o.maxPayloadBytes) {
          this.stats.tooLarge++;
          this.#error(res, 413, 'PayloadTooLargeException', 'Request entity too large');
          return;
        }
        if (!gateway.send(connectionId, body)) {
          if (this.acceptUnknownConnections && !gateway.connection(connectionId)) {
            this.syntheticPosts++;
            this.stats.delivered++;
            sendEmpty(res, 200);
            return;
          }
          this.#gone(res, connectionId, operation);
          return;
        }
        this.stats.delivered++;
        this.#o.log.debug('posted', { connectionId, bytes: body.length });
        sendEmpty(res, 200);
        return;
      }
      case 'get': {
        const info = gateway.connection(connectionId);
        if (!info) {
          this.#gone(res, connectionId, operation);
          return;
        }
        // The wire names are the model's jsonNames; the SDK maps them to ConnectedAt, Identity...
        sendJson(res, 200, {
          connectedAt: new Date(info.connectedAt).toISOString(),
          identity: { sourceIp: info.sourceIp, userAgent: info.userAgent },
          lastActiveAt: new Date(info.lastActiveAt).toISOString(),
        });
        return;
      }
      case 'delete': {
        if (!gateway.disconnect(connectionId)) {
          this.#gone(res, connectionId, operation);
          return;
        }
        this.#o.log.debug('deleted', { connectionId });
        sendEmpty(res, 204);
        return;
      }
    }
  }

  /** Attempts are counted only while an injector is installed (from its installation on). */
  #nextAttempt(operation: ManagementOperation, connectionId: string): number {
    const key = `${operation}:${connectionId}`;
    const attempt = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.set(key, attempt);
    return attempt;
  }

  #gone(res: RouteRequest['res'], connectionId: string, operation: ManagementOperation): void {
    this.stats.gone++;
    this.#o.log.debug('gone', { connectionId, operation });
    sendJson(res, 410, { message: null }, { 'x-amzn-errortype': 'GoneException' });
  }

  #error(res: RouteRequest['res'], status: number, errorType: string | undefined, message?: string): void {
    const headers: Record<string, string> = errorType ? { 'x-amzn-errortype': errorType } : {};
    sendJson(res, status, { message: message ?? (status >= 500 ? 'Internal server error' : null) }, headers);
  }
}
