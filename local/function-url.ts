/**
 * A Lambda function URL (auth type NONE, invoke mode RESPONSE_STREAM) on one path of the
 * runtime's port. Each HTTP request becomes a payload 2.0 event (as function URLs send it:
 * lower-cased headers, comma-joined repeated headers and query parameters, cookies apart) and
 * one invocation:
 * - a streaming handler (`awslambda.streamifyResponse`) writes to a LocalResponseStream whose
 *   chunks reach the client as they are written; its invocation runs as long as it streams;
 * - any other handler's result is the response ({ statusCode, headers, body }, or a bare
 *   value as a JSON body), as with invoke mode BUFFERED.
 * A handler that throws before its first byte answers 502, as a function URL does.
 *
 * Test hooks: `active` (invocations running now), `completed`, `idle()`, and the events
 * `invoke` and `settled` ({ requestId, ms, error? }).
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { readBody, sendJson, type Route, type RouteRequest } from './http-router.ts';
import type { LambdaFunction } from './lambda-context.ts';
import type { RuntimeLog } from './log.ts';
import { LocalResponseStream } from './streaming.ts';
import { apiGatewayRequestTime, errorMessageOf, uuid } from './util.ts';

export interface FunctionUrlOptions {
  fn: LambdaFunction;
  /** The path it answers on locally, e.g. `/sse`. */
  path: string;
  region: string;
  /** The URL id (`{id}.lambda-url.{region}.on.aws`). @default a fixed local id */
  urlId?: string;
  log: RuntimeLog;
}

export interface FunctionUrlSettled {
  requestId: string;
  ms: number;
  error?: string;
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** Hop-by-hop headers a function URL does not pass on. */
const DROPPED_HEADERS = /^(connection|keep-alive|upgrade|transfer-encoding|te|trailer|proxy-connection)$/i;

export class FunctionUrl extends EventEmitter<{ invoke: [string]; settled: [FunctionUrlSettled] }> {
  readonly #o: FunctionUrlOptions;
  readonly #urlId: string;
  #active = 0;
  #completed = 0;

  constructor(options: FunctionUrlOptions) {
    super();
    this.#o = options;
    this.#urlId = options.urlId ?? 'localsselambdaurl0000000000000';
  }

  /** Invocations running now. */
  get active(): number {
    return this.#active;
  }

  /** Invocations that have returned (or failed). */
  get completed(): number {
    return this.#completed;
  }

  /** Resolves when no invocation is running. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#active > 0) return;
        this.off('settled', check);
        resolve();
      };
      this.on('settled', check);
    });
  }

  route(): Route {
    return { name: `function-url ${this.#o.path}`, methods: ALL_METHODS, path: this.#o.path, handle: (request) => this.#handle(request) };
  }

  async #handle({ req, res, url }: RouteRequest): Promise<void> {
    const body = await readBody(req);
    const event = this.#event(req, url, body);
    const requestId = event.requestContext.requestId;
    const started = Date.now();
    this.#active++;
    this.emit('invoke', requestId);
    let failure: string | undefined;
    try {
      if (this.#o.fn.streaming) {
        const stream = new LocalResponseStream(res);
        stream.on('error', () => {}); // a write after the client left; the handler sees it in the callback
        try {
          await this.#o.fn.invokeStreaming(event, stream);
        } catch (error) {
          failure = errorMessageOf(error);
          this.#o.log.warn('streaming invocation failed', { function: this.#o.fn.config.functionName, error: failure });
          if (!res.headersSent) sendJson(res, 502, { Message: 'Internal Server Error' });
          else stream.destroy();
          return;
        }
        // Lambda's runtime ends the response when the handler's promise resolves.
        if (!stream.writableEnded && !stream.destroyed) stream.end();
        return;
      }
      try {
        this.#sendBuffered(res, await this.#o.fn.invoke(event));
      } catch (error) {
        failure = errorMessageOf(error);
        sendJson(res, 502, { Message: 'Internal Server Error' });
      }
    } finally {
      this.#active--;
      this.#completed++;
      this.emit('settled', { requestId, ms: Date.now() - started, ...(failure !== undefined ? { error: failure } : {}) });
    }
  }

  #sendBuffered(res: RouteRequest['res'], result: unknown): void {
    if (result !== null && typeof result === 'object' && 'statusCode' in result) {
      const r = result as { statusCode?: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean; cookies?: string[] };
      const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');
      const headers: Record<string, string | string[]> = { 'content-type': 'application/json', ...r.headers, 'content-length': String(body.length) };
      if (r.cookies?.length) headers['set-cookie'] = r.cookies;
      res.writeHead(r.statusCode ?? 200, headers);
      res.end(body);
      return;
    }
    sendJson(res, 200, result);
  }

  #event(req: IncomingMessage, url: URL, body: Buffer): LambdaFunctionURLEvent {
    const now = Date.now();
    const headers: Record<string, string> = {};
    const cookies: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]?.toLowerCase();
      const value = req.rawHeaders[i + 1];
      if (name === undefined || value === undefined || DROPPED_HEADERS.test(name)) continue;
      if (name === 'cookie') {
        cookies.push(...value.split(/;\s*/).filter(Boolean));
        continue;
      }
      headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
    }
    const sourceIp = normalizeIp(req.socket.remoteAddress);
    headers['x-forwarded-for'] = sourceIp;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
    headers['x-amzn-trace-id'] = `Root=1-${Math.floor(now / 1000).toString(16)}-${uuid().replaceAll('-', '').slice(0, 24)}`;

    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;

    const event: LambdaFunctionURLEvent = {
      version: '2.0',
      routeKey: '$default',
      rawPath: url.pathname,
      rawQueryString: url.search.replace(/^\?/, ''),
      headers,
      requestContext: {
        accountId: 'anonymous',
        apiId: this.#urlId,
        domainName: `${this.#urlId}.lambda-url.${this.#o.region}.on.aws`,
        domainPrefix: this.#urlId,
        http: {
          method: (req.method ?? 'GET').toUpperCase(),
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp,
          userAgent: req.headers['user-agent'] ?? '',
        },
        requestId: uuid(),
        routeKey: '$default',
        stage: '$default',
        time: apiGatewayRequestTime(now),
        timeEpoch: now,
      },
      isBase64Encoded: false,
    };
    if (cookies.length > 0) event.cookies = cookies;
    if (Object.keys(query).length > 0) event.queryStringParameters = query;
    if (body.length > 0) {
      const text = body.toString('utf8');
      const isText = Buffer.from(text, 'utf8').equals(body);
      event.body = isText ? text : body.toString('base64');
      event.isBase64Encoded = !isText;
    }
    return event;
  }
}

function normalizeIp(address: string | undefined): string {
  if (!address) return '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
