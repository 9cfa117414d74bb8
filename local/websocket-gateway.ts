/**
 * API Gateway WebSocket emulation: the upgrade goes through the REQUEST authorizer (identity
 * source `route.request.querystring.token`) and the `$connect` integration before it completes;
 * frames are routed with `$request.body.action`; `$disconnect` runs once per connection (except
 * for the best-effort case `dropWithoutDisconnect` simulates). Limits: 128 KB messages (1009),
 * idle timeout and maximum connection duration (1001).
 */
import { EventEmitter } from 'node:events';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyWebsocketEventV2,
  APIGatewayRequestAuthorizerEvent,
} from 'aws-lambda';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { LambdaFunction } from './lambda-context.ts';
import type { RuntimeLog } from './log.ts';
import { ACCOUNT_ID, Timers, Tracker, apiGatewayId, apiGatewayRequestTime, deferred, errorMessageOf, uuid, type Deferred } from './util.ts';

/** The requestContext API Gateway passes to `$connect`, `$disconnect` and message routes. */
export interface WebSocketRequestContext extends Omit<APIGatewayEventWebsocketRequestContextV2, 'messageId'> {
  /** Present on MESSAGE events only. */
  messageId?: string;
  /** The authorizer's context (values as strings) with `principalId` and `integrationLatency`. */
  authorizer: Record<string, unknown>;
  identity: { sourceIp: string; userAgent: string };
  disconnectStatusCode?: number;
  disconnectReason?: string;
}
/** The APIGatewayProxyWebsocketEventV2 shape, with what the real events also carry. */
export interface WebSocketEvent extends Omit<APIGatewayProxyWebsocketEventV2, 'requestContext'> {
  requestContext: WebSocketRequestContext;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
}
export interface WebSocketResult {
  statusCode?: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface GatewayFunctions {
  authorizer: LambdaFunction<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult | null>;
  connect: LambdaFunction<WebSocketEvent, WebSocketResult | null>;
  disconnect: LambdaFunction<WebSocketEvent, WebSocketResult | null>;
  message: LambdaFunction<WebSocketEvent, WebSocketResult | null>;
}

export interface WebSocketGatewayOptions {
  stage: string;
  apiId: string;
  region: string;
  /** Route keys besides `$default` (route selection expression `$request.body.action`). */
  routes: readonly string[];
  idleTimeoutMs: number;
  maxConnectionMs: number;
  /** API Gateway's message cap: 128 KB. */
  maxMessageBytes: number;
  functions: GatewayFunctions;
  timers: Timers;
  log: RuntimeLog;
}

export interface ConnectionInfo {
  connectionId: string;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  authorizer: Record<string, unknown>;
}

export interface GatewayEvents {
  connect: [{ connectionId: string; authorizer: Record<string, unknown> }];
  /** After `$connect` or the authorizer refused an upgrade. */
  reject: [{ status: number; reason: string }];
  /** After the message handler finished (or failed). */
  message: [{ connectionId: string; routeKey: string; ok: boolean }];
  /** After `$disconnect` ran (or failed). */
  disconnect: [{ connectionId: string; statusCode: number; reason: string }];
}

interface Connection extends ConnectionInfo {
  ws: WebSocket;
  state: 'open' | 'closing' | 'closed';
  domainName: string;
  idleTimer: NodeJS.Timeout | undefined;
  maxTimer: NodeJS.Timeout | undefined;
  /** Set when the server closed it, so `$disconnect` reports why. */
  serverClose: { statusCode: number; reason: string } | undefined;
  dropped: boolean;
  closed: Deferred<void>;
}

/** Client-side WebSocket errors that make ws close the connection, with the code it sends. */
const WS_ERROR_CODES: Record<string, { statusCode: number; reason: string }> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: { statusCode: 1009, reason: 'Message too big' },
  WS_ERR_INVALID_UTF8: { statusCode: 1007, reason: 'Invalid frame payload data' },
};

export class WebSocketGateway extends EventEmitter<GatewayEvents> {
  readonly #o: WebSocketGatewayOptions;
  readonly #log: RuntimeLog;
  readonly #wss: WebSocketServer;
  readonly #connections = new Map<string, Connection>();
  readonly #pending = new Set<string>();
  readonly #tracker = new Tracker();
  readonly #protocols = new WeakMap<IncomingMessage, string>();
  #closing = false;
  readonly stats = { upgrades: 0, rejected: 0, connected: 0, messages: 0, messageErrors: 0, disconnected: 0 };

  constructor(options: WebSocketGatewayOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
    // closeTimeout (ws >= 8.18) is missing from @types/ws: wait 1 s, not 30, for a close handshake.
    const wsOptions = {
      noServer: true,
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      closeTimeout: 1000,
      // API Gateway answers with the subprotocol only when the $connect integration returns it.
      handleProtocols: (_protocols: Set<string>, req: IncomingMessage) => this.#protocols.get(req) ?? false,
    };
    this.#wss = new WebSocketServer(wsOptions);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  connectionIds(): string[] {
    return [...this.#connections.keys()];
  }

  /** An open connection's details; undefined when unknown, closing or closed. */
  connection(connectionId: string): ConnectionInfo | undefined {
    const c = this.#connections.get(connectionId);
    if (!c || c.state !== 'open') return undefined;
    return {
      connectionId: c.connectionId,
      connectedAt: c.connectedAt,
      lastActiveAt: c.lastActiveAt,
      sourceIp: c.sourceIp,
      userAgent: c.userAgent,
      authorizer: { ...c.authorizer },
    };
  }

  /** Sends a text frame (PostToConnection); false when the connection is gone. */
  send(connectionId: string, data: Buffer): boolean {
    const c = this.#connections.get(connectionId);
    if (!c || c.state !== 'open') return false;
    c.ws.send(data, { binary: false });
    return true;
  }

  /** Closes a connection from the server (DeleteConnection); `$disconnect` follows. */
  disconnect(connectionId: string, statusCode = 1000, reason = 'Connection closed by the DeleteConnection API'): boolean {
    const c = this.#connections.get(connectionId);
    if (!c || c.state !== 'open') return false;
    this.#serverClose(c, statusCode, '', reason);
    return true;
  }

  /**
   * Test hook for AWS's best-effort `$disconnect`: the socket is destroyed and forgotten, and
   * `$disconnect` is never invoked.
   */
  dropWithoutDisconnect(connectionId: string): boolean {
    const c = this.#connections.get(connectionId);
    if (!c) return false;
    c.dropped = true;
    this.#forget(c);
    c.ws.terminate();
    this.#log.debug('connection dropped without $disconnect', { connectionId });
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Upgrade: authorizer, $connect, then the WebSocket

  /** The HTTP server's `upgrade` listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', (error) => this.#log.debug('upgrade socket error', { error: errorMessageOf(error) }));
    void this.#tracker.track(this.#upgrade(req, socket, head)).catch((error: unknown) => {
      this.#log.error('upgrade failed', { error });
      reject(socket, 500, 'Internal server error');
    });
  };

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.stats.upgrades++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { stage } = this.#o;
    if (url.pathname !== '/' && url.pathname !== `/${stage}` && url.pathname !== `/${stage}/`) {
      this.#reject(socket, 404, 'Not Found', 'unknown path');
      return;
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !req.headers['sec-websocket-key']) {
      this.#reject(socket, 400, 'Bad Request', 'not a WebSocket upgrade');
      return;
    }
    if (this.#closing) {
      this.#reject(socket, 503, 'Service Unavailable', 'runtime closing');
      return;
    }

    const query = queryParameters(url);
    const token = query.single['token'];
    if (token === undefined || token === '') {
      // The identity source is missing: API Gateway answers 401 without calling the authorizer.
      this.#reject(socket, 401, 'Unauthorized', 'no token', 'UnauthorizedException');
      return;
    }

    const connectionId = this.#newConnectionId();
    this.#pending.add(connectionId);
    try {
      const connectedAt = Date.now();
      const sourceIp = normalizeIp(req.socket.remoteAddress);
      const userAgent = req.headers['user-agent'] ?? '';
      const domainName = req.headers.host ?? '127.0.0.1';
      const headers = requestHeaders(req, sourceIp);
      const base = {
        routeKey: '$connect',
        eventType: 'CONNECT' as const,
        extendedRequestId: apiGatewayId(),
        requestTime: apiGatewayRequestTime(connectedAt),
        messageDirection: 'IN' as const,
        stage,
        connectedAt,
        requestTimeEpoch: connectedAt,
        identity: { userAgent, sourceIp },
        requestId: apiGatewayId(),
        domainName,
        connectionId,
        apiId: this.#o.apiId,
      };

      // 1. The REQUEST authorizer.
      const authorizerEvent = {
        type: 'REQUEST',
        methodArn: `arn:aws:execute-api:${this.#o.region}:${ACCOUNT_ID}:${this.#o.apiId}/${stage}/$connect`,
        headers: headers.single,
        multiValueHeaders: headers.multi,
        queryStringParameters: query.single,
        multiValueQueryStringParameters: query.multi,
        stageVariables: {},
        requestContext: base,
      } as unknown as APIGatewayRequestAuthorizerEvent;
      const authStarted = Date.now();
      let authResult: APIGatewayAuthorizerResult | null;
      try {
        authResult = await this.#o.functions.authorizer.invoke(authorizerEvent);
      } catch (error) {
        if (errorMessageOf(error) === 'Unauthorized') {
          this.#reject(socket, 401, 'Unauthorized', 'authorizer: Unauthorized', 'UnauthorizedException');
        } else {
          this.#log.warn('authorizer failed', { connectionId, error: errorMessageOf(error) });
          this.#reject(socket, 500, 'Internal server error', 'authorizer error', 'AuthorizerFailureException');
        }
        return;
      }
      const decision = evaluateAuthorizerResult(authResult, authorizerEvent.methodArn);
      if (decision.kind === 'invalid') {
        this.#log.warn('authorizer returned an invalid result', { connectionId, reason: decision.reason });
        this.#reject(socket, 500, 'Internal server error', 'authorizer configuration', 'AuthorizerConfigurationException');
        return;
      }
      if (decision.kind === 'deny') {
        this.#reject(socket, 403, 'Forbidden', 'authorizer: Deny', 'AccessDeniedException');
        return;
      }
      const authorizer = { ...decision.context, principalId: decision.principalId, integrationLatency: Date.now() - authStarted };

      // 2. $connect.
      const connectRequestId = apiGatewayId();
      const connectEvent: WebSocketEvent = {
        headers: headers.single,
        multiValueHeaders: headers.multi,
        queryStringParameters: query.single,
        multiValueQueryStringParameters: query.multi,
        // A $connect event has no messageId.
        requestContext: { ...base, requestId: connectRequestId, extendedRequestId: connectRequestId, authorizer },
        isBase64Encoded: false,
      };
      let connectResult: WebSocketResult | null;
      try {
        connectResult = await this.#o.functions.connect.invoke(connectEvent);
      } catch (error) {
        this.#log.warn('$connect failed', { connectionId, error: errorMessageOf(error) });
        this.#reject(socket, 500, 'Internal server error', '$connect threw');
        return;
      }
      const status = typeof connectResult?.statusCode === 'number' ? connectResult.statusCode : 200;
      if (status < 200 || status > 299) {
        this.#reject(socket, status, STATUS_CODES[status] ?? 'Error', `$connect returned ${String(status)}`);
        return;
      }

      // 3. The WebSocket itself.
      const info: ConnectionInfo = { connectionId, connectedAt, lastActiveAt: connectedAt, sourceIp, userAgent, authorizer };
      if (socket.destroyed || this.#closing) {
        // The client left (or the runtime is closing) while $connect ran: the connection existed
        // for the backend, so it gets its $disconnect.
        this.#log.debug('client gone before the upgrade completed', { connectionId });
        if (!socket.destroyed) socket.destroy();
        this.#invokeDisconnect(info, domainName, 1006, 'Client disconnected before the connection was established');
        return;
      }
      const protocol = connectResult?.headers?.['Sec-WebSocket-Protocol'] ?? connectResult?.headers?.['sec-websocket-protocol'];
      if (protocol) this.#protocols.set(req, protocol);
      const upgraded = await new Promise<WebSocket | undefined>((resolve) => {
        socket.once('close', () => resolve(undefined));
        this.#wss.handleUpgrade(req, socket, head, (ws) => resolve(ws));
      });
      if (!upgraded) {
        this.#invokeDisconnect(info, domainName, 1006, 'Client disconnected before the connection was established');
        return;
      }
      this.#open(info, upgraded, domainName);
    } finally {
      this.#pending.delete(connectionId);
    }
  }

  #newConnectionId(): string {
    for (;;) {
      const id = apiGatewayId();
      if (!this.#connections.has(id) && !this.#pending.has(id)) return id;
    }
  }

  #reject(socket: Duplex, status: number, message: string, reason: string, errorType?: string): void {
    this.stats.rejected++;
    this.#log.debug('upgrade rejected', { status, reason });
    reject(socket, status, message, errorType);
    this.emit('reject', { status, reason });
  }

  // -------------------------------------------------------------------------------------------
  // Open connections

  #open(info: ConnectionInfo, ws: WebSocket, domainName: string): void {
    const c: Connection = {
      ...info,
      ws,
      state: 'open',
      domainName,
      idleTimer: undefined,
      maxTimer: undefined,
      serverClose: undefined,
      dropped: false,
      closed: deferred<void>(),
    };
    this.#connections.set(c.connectionId, c);
    this.stats.connected++;
    this.#armIdle(c);
    c.maxTimer = this.#o.timers.set(() => this.#serverClose(c, 1001, 'Going away', 'Going away'), this.#o.maxConnectionMs);
    ws.on('message', (data, isBinary) => this.#onMessage(c, data, isBinary));
    ws.on('error', (error: Error & { code?: string }) => {
      const known = error.code ? WS_ERROR_CODES[error.code] : undefined;
      c.serverClose ??= known ?? { statusCode: 1002, reason: 'Protocol error' };
      this.#log.debug('websocket error', { connectionId: c.connectionId, error: error.message, code: error.code });
    });
    ws.on('close', (code, reason) => this.#onClose(c, code, reason.toString('utf8')));
    this.#log.debug('connected', { connectionId: c.connectionId, principalId: c.authorizer['principalId'] });
    this.emit('connect', { connectionId: c.connectionId, authorizer: { ...c.authorizer } });
  }

  /** Only data frames count as activity: control frames (ping/pong) do not reset the idle timeout. */
  #armIdle(c: Connection): void {
    this.#o.timers.clear(c.idleTimer);
    c.idleTimer = this.#o.timers.set(() => this.#serverClose(c, 1001, 'Going away', 'Going away'), this.#o.idleTimeoutMs);
  }

  #onMessage(c: Connection, data: RawData, isBinary: boolean): void {
    if (c.state !== 'open') return;
    const now = Date.now();
    c.lastActiveAt = now;
    this.#armIdle(c);
    if (isBinary) {
      // API Gateway WebSocket APIs take no binary frames: the client is disconnected with 1003
      // and no route runs ("Binary media types for WebSocket APIs" in the developer guide).
      this.#serverClose(c, 1003, '', 'Binary frames are not supported');
      return;
    }
    this.stats.messages++;
    const body = toBuffer(data).toString('utf8');
    const routeKey = selectRoute(body, this.#o.routes);
    const requestId = apiGatewayId();
    const event: WebSocketEvent = {
      requestContext: {
        routeKey,
        authorizer: { ...c.authorizer },
        messageId: apiGatewayId(),
        eventType: 'MESSAGE',
        extendedRequestId: requestId,
        requestTime: apiGatewayRequestTime(now),
        messageDirection: 'IN',
        stage: this.#o.stage,
        connectedAt: c.connectedAt,
        requestTimeEpoch: now,
        identity: { userAgent: c.userAgent, sourceIp: c.sourceIp },
        requestId,
        domainName: c.domainName,
        connectionId: c.connectionId,
        apiId: this.#o.apiId,
      },
      body,
      isBase64Encoded: false,
    };
    // Like API Gateway, every message is its own invocation, concurrently with the others.
    const run = this.#o.functions.message.invoke(event).then(
      () => {
        this.emit('message', { connectionId: c.connectionId, routeKey, ok: true });
      },
      (error: unknown) => {
        this.stats.messageErrors++;
        this.#log.warn('message handler failed', { connectionId: c.connectionId, routeKey, error: errorMessageOf(error) });
        // API Gateway tells the client when the integration fails.
        if (c.state === 'open') {
          c.ws.send(JSON.stringify({ message: 'Internal server error', connectionId: c.connectionId, requestId }));
        }
        this.emit('message', { connectionId: c.connectionId, routeKey, ok: false });
      },
    );
    void this.#tracker.track(run);
  }

  #serverClose(c: Connection, code: number, wireReason: string, disconnectReason: string): void {
    if (c.state !== 'open') return;
    c.state = 'closing';
    c.serverClose = { statusCode: code, reason: disconnectReason };
    this.#clearTimers(c);
    this.#log.debug('closing connection', { connectionId: c.connectionId, code, reason: disconnectReason });
    c.ws.close(code, wireReason);
  }

  #onClose(c: Connection, code: number, reason: string): void {
    if (c.state === 'closed') return;
    this.#forget(c);
    c.closed.resolve();
    if (c.dropped) return;
    const statusCode = c.serverClose?.statusCode ?? code;
    const disconnectReason =
      c.serverClose?.reason ??
      (code === 1006
        ? 'Client disconnected without a close frame'
        : `Client-side close frame status code '${String(code)}' and reason '${reason}'`);
    this.#log.debug('disconnected', { connectionId: c.connectionId, statusCode, reason: disconnectReason });
    this.#invokeDisconnect(c, c.domainName, statusCode, disconnectReason);
  }

  #forget(c: Connection): void {
    c.state = 'closed';
    this.#clearTimers(c);
    if (this.#connections.get(c.connectionId) === c) this.#connections.delete(c.connectionId);
    c.closed.resolve();
  }

  #clearTimers(c: Connection): void {
    this.#o.timers.clear(c.idleTimer);
    this.#o.timers.clear(c.maxTimer);
    c.idleTimer = undefined;
    c.maxTimer = undefined;
  }

  /** `$disconnect`, once per connection. */
  #invokeDisconnect(c: ConnectionInfo, domainName: string, statusCode: number, reason: string): void {
    const now = Date.now();
    const requestId = apiGatewayId();
    const event: WebSocketEvent = {
      headers: { Host: domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' },
      multiValueHeaders: { Host: [domainName], 'x-api-key': [''], 'X-Forwarded-For': [''], 'x-restapi': [''] },
      requestContext: {
        routeKey: '$disconnect',
        authorizer: { ...c.authorizer },
        disconnectStatusCode: statusCode,
        eventType: 'DISCONNECT',
        extendedRequestId: requestId,
        requestTime: apiGatewayRequestTime(now),
        messageDirection: 'IN',
        disconnectReason: reason,
        stage: this.#o.stage,
        connectedAt: c.connectedAt,
        requestTimeEpoch: now,
        identity: { userAgent: c.userAgent, sourceIp: c.sourceIp },
        requestId,
        domainName,
        connectionId: c.connectionId,
        apiId: this.#o.apiId,
      },
      isBase64Encoded: false,
    };
    this.stats.disconnected++;
    const run = this.#o.functions.disconnect.invoke(event).then(
      () => undefined,
      (error: unknown) => {
        this.#log.warn('$disconnect failed', { connectionId: c.connectionId, error: errorMessageOf(error) });
      },
    );
    void this.#tracker.track(
      run.then(() => {
        this.emit('disconnect', { connectionId: c.connectionId, statusCode, reason });
      }),
    );
  }

  /** Closes every connection (1001, running `$disconnect`) and waits for all handler invocations. */
  async close(): Promise<void> {
    this.#closing = true;
    const open = [...this.#connections.values()];
    for (const c of open) this.#serverClose(c, 1001, 'Going away', 'Going away');
    await Promise.all(open.map((c) => c.closed.promise));
    await this.#tracker.idle();
    this.#wss.close();
  }
}

// ---------------------------------------------------------------------------------------------

/** `$request.body.action` when the body is a JSON object whose action is a known route key. */
export function selectRoute(body: string, routes: readonly string[]): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return '$default';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return '$default';
  const action = (parsed as { action?: unknown }).action;
  return typeof action === 'string' && routes.includes(action) ? action : '$default';
}

type Decision =
  | { kind: 'allow'; principalId: string; context: Record<string, string> }
  | { kind: 'deny' }
  | { kind: 'invalid'; reason: string };

/** API Gateway's reading of a Lambda authorizer result for `methodArn`. */
export function evaluateAuthorizerResult(result: unknown, methodArn: string): Decision {
  if (typeof result !== 'object' || result === null) return { kind: 'invalid', reason: 'not an object' };
  const r = result as { principalId?: unknown; policyDocument?: unknown; context?: unknown };
  if (typeof r.principalId !== 'string' && typeof r.principalId !== 'number') return { kind: 'invalid', reason: 'principalId missing' };
  const doc = r.policyDocument as { Statement?: unknown } | undefined;
  if (typeof doc !== 'object' || doc === null || doc.Statement === undefined) return { kind: 'invalid', reason: 'policyDocument missing' };
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<string, unknown>[];
  let allowed = false;
  for (const s of statements) {
    if (typeof s !== 'object' || s === null) return { kind: 'invalid', reason: 'bad statement' };
    const effect = s['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny') return { kind: 'invalid', reason: `bad Effect ${String(effect)}` };
    const actions = toList(s['Action']);
    const resources = toList(s['Resource']);
    const applies =
      actions.some((a) => wildcardMatch(a, 'execute-api:Invoke')) && resources.some((res) => wildcardMatch(res, methodArn));
    if (!applies) continue;
    if (effect === 'Deny') return { kind: 'deny' };
    allowed = true;
  }
  if (!allowed) return { kind: 'deny' };
  // Context values must be strings, numbers or booleans; API Gateway hands them on as strings.
  const context: Record<string, string> = {};
  if (r.context !== undefined && r.context !== null) {
    if (typeof r.context !== 'object' || Array.isArray(r.context)) return { kind: 'invalid', reason: 'context is not a map' };
    for (const [k, v] of Object.entries(r.context as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      if (typeof v === 'object') return { kind: 'invalid', reason: `context.${k} is not a string, number or boolean` };
      context[k] = String(v);
    }
  }
  return { kind: 'allow', principalId: String(r.principalId), context };
}

function toList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function wildcardMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(value);
}

function queryParameters(url: URL): { single: Record<string, string>; multi: Record<string, string[]> } {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    single[k] = v;
    (multi[k] ??= []).push(v);
  }
  return { single, multi };
}

/** Headers with their original casing, plus what API Gateway adds. */
function requestHeaders(req: IncomingMessage, sourceIp: string): { single: Record<string, string>; multi: Record<string, string[]> } {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  const casing = new Map<string, string>();
  const add = (name: string, value: string): void => {
    const key = casing.get(name.toLowerCase()) ?? name;
    casing.set(name.toLowerCase(), key);
    single[key] = value;
    (multi[key] ??= []).push(value);
  };
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    if (name === undefined || value === undefined) continue;
    if (/^(connection|upgrade|x-forwarded-(for|port|proto))$/i.test(name)) continue;
    add(name, value);
  }
  add('X-Amzn-Trace-Id', `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${uuid().replaceAll('-', '').slice(0, 24)}`);
  add('X-Forwarded-For', sourceIp);
  add('X-Forwarded-Port', String(req.socket.localPort ?? ''));
  add('X-Forwarded-Proto', 'http');
  return { single, multi };
}

function normalizeIp(address: string | undefined): string {
  if (!address) return '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Answers a refused upgrade like API Gateway: a JSON body, `Connection: close`, then the socket ends. */
function reject(socket: Duplex, status: number, message: string, errorType?: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ message });
  const lines = [
    `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${String(Buffer.byteLength(body))}`,
    'Connection: close',
    `x-amzn-RequestId: ${uuid()}`,
    `x-amz-apigw-id: ${apiGatewayId()}`,
  ];
  if (errorType) lines.push(`x-amzn-ErrorType: ${errorType}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}
