/**
 * A tiny router for the runtime's single HTTP port. Routes are tried in order; each matches on
 * the method, the path and optionally the `x-amz-target` header (EventBridge and SQS both POST
 * to `/` and differ only by target).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeLog } from './log.ts';
import { apiGatewayId, errorMessageOf } from './util.ts';

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Named captures of the path pattern, URL-decoded. */
  params: Record<string, string>;
}

export interface Route {
  name: string;
  methods: readonly string[];
  /** A RegExp with named groups, or an exact path. */
  path: RegExp | string;
  /** Required `x-amz-target`: exact, or a prefix ending in `.` (e.g. `AmazonSQS.`). */
  target?: string;
  handle(request: RouteRequest): Promise<void> | void;
}

/** Requests larger than this are refused before routing (API Gateway's own 10 MB cap). */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errorType?: string,
  ) {
    super(message);
  }
}

export class HttpRouter {
  readonly #routes: Route[] = [];

  constructor(private readonly log: RuntimeLog) {}

  add(route: Route): this {
    this.#routes.push(route);
    return this;
  }

  /** The `request` listener of the HTTP server. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#dispatch(req, res);
  };

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const target = header(req, 'x-amz-target');
    let pathMatched = false;
    for (const route of this.#routes) {
      const params = matchPath(route.path, url.pathname);
      if (!params) continue;
      if (route.target !== undefined && !matchTarget(route.target, target)) continue;
      pathMatched = true;
      if (!route.methods.includes(method)) continue;
      try {
        await route.handle({ req, res, url, params });
      } catch (error) {
        if (error instanceof HttpError) {
          sendJson(res, error.status, { message: error.message }, error.errorType ? { 'x-amzn-errortype': error.errorType } : {});
        } else {
          this.log.error('route failed', { route: route.name, error });
          sendJson(res, 500, { message: 'Internal server error' });
        }
      }
      return;
    }
    if (pathMatched) {
      sendJson(res, 405, { message: `Method ${method} not allowed` });
      return;
    }
    if (method === 'POST' && url.pathname === '/' && target) {
      // An AWS JSON protocol call we do not emulate.
      drain(req);
      sendJson(res, 400, { __type: 'UnknownOperationException', message: `Unknown operation ${target}` }, {
        'x-amzn-errortype': 'UnknownOperationException',
      });
      return;
    }
    drain(req);
    this.log.debug('no route', { method, path: url.pathname });
    sendJson(res, 404, { message: 'Not Found', path: url.pathname });
  }
}

function matchPath(pattern: RegExp | string, pathname: string): Record<string, string> | undefined {
  if (typeof pattern === 'string') return pattern === pathname ? {} : undefined;
  const m = pattern.exec(pathname);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.groups ?? {})) {
    if (v === undefined) continue;
    try {
      params[k] = decodeURIComponent(v);
    } catch {
      params[k] = v;
    }
  }
  return params;
}

function matchTarget(expected: string, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  return expected.endsWith('.') ? actual.startsWith(expected) : actual === expected;
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Reads the whole body; a body over `limit` bytes rejects with HttpError 413. */
export function readBody(req: IncomingMessage, limit = MAX_REQUEST_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, 'Request Entity Too Large', 'PayloadTooLargeException'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
    });
  });
}

/** Parses an AWS JSON protocol body; a malformed one is the service's SerializationException. */
export async function readJson(req: IncomingMessage, limit = MAX_REQUEST_BYTES): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch (error) {
    throw new HttpError(400, `Could not parse request body: ${errorMessageOf(error)}`, 'SerializationException');
  }
  throw new HttpError(400, 'Request body must be a JSON object', 'SerializationException');
}

function drain(req: IncomingMessage): void {
  req.resume();
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': apiGatewayId(),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': 0, 'x-amzn-requestid': apiGatewayId(), ...headers });
  res.end();
}
