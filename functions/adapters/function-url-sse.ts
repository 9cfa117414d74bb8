/**
 * The SSE endpoint on a Lambda function URL with invoke mode RESPONSE_STREAM: the HTTP side
 * (method, CORS, the channel list, the token, status codes) around the domain's stream.
 *
 * Status and headers go out before the first byte (`awslambda.HttpResponseStream.from`), so
 * everything that can refuse a request (origin, method, channels, token, authorization) is
 * decided first and answered as JSON `{ "event": "error", "code", "message", "timestamp" }`.
 */
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import type { Channel } from '../domain/channels.ts';
import type { CorsPolicy } from '../domain/cors.ts';
import { AuthError, ErrorCode, RealtimeError, invalidMessage } from '../domain/errors.ts';
import type { Clock, Identity, Log, Metrics, TokenVerifier } from '../domain/ports.ts';
import { parseChannelList } from '../domain/sse-channels.ts';
import { formatEvent, formatRetry } from '../domain/sse-format.ts';
import type { SseService, SseSink } from '../domain/sse.ts';
import { errorMessage } from '../domain/wire.ts';

export interface SseEndpointDeps {
  verifier: TokenVerifier;
  service: SseService;
  cors: CorsPolicy;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  /** The longest stream, whatever the function's timeout allows. */
  maxDurationMs: number;
  /** The `retry:` hint of a stream that fails to start. @default 2000 */
  retryMs?: number;
  /** Time kept before the function's timeout to end the stream cleanly. @default 10000 */
  endMarginMs?: number;
}

const ALLOW = 'GET, OPTIONS';
const STATUS: Partial<Record<RealtimeError['code'], number>> = {
  [ErrorCode.AUTH_REQUIRED]: 401,
  [ErrorCode.PERMISSION_DENIED]: 403,
  [ErrorCode.CHANNEL_NOT_FOUND]: 400,
  [ErrorCode.INVALID_MESSAGE]: 400,
};
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-store, no-transform',
  'x-accel-buffering': 'no',
};

export async function handleSseRequest(
  event: LambdaFunctionURLEvent,
  responseStream: awslambda.ResponseStream,
  context: Context,
  deps: SseEndpointDeps,
): Promise<void> {
  const { log, metrics, cors } = deps;
  const method = event.requestContext.http.method.toUpperCase();
  const headers = event.headers ?? {};
  const query = event.queryStringParameters ?? {};
  const origin = headers['origin'];
  const sourceIp = event.requestContext.http.sourceIp;
  const refuse = (status: number, error: RealtimeError, extra: Record<string, string> = {}): void =>
    respond(responseStream, status, errorMessage(error, deps.clock.now()), { ...cors.headersFor(origin), ...extra });

  if (origin !== undefined && !cors.allows(origin)) {
    log.warn('sse refused', { reason: 'origin not allowed', origin, sourceIp });
    respond(responseStream, 403, errorMessage(new RealtimeError(ErrorCode.PERMISSION_DENIED, 'Origin not allowed'), deps.clock.now()), { vary: 'Origin' });
    return;
  }
  if (method === 'OPTIONS') {
    respond(responseStream, 204, undefined, origin === undefined ? { allow: ALLOW } : cors.preflightHeaders(origin));
    return;
  }
  if (method !== 'GET') {
    refuse(405, invalidMessage(`Method ${method} not allowed`), { allow: ALLOW });
    return;
  }

  let channels: Channel[];
  try {
    channels = parseChannelList(query['channels']);
  } catch (error) {
    if (!(error instanceof RealtimeError)) throw error;
    refuse(400, error);
    return;
  }

  const token = bearerToken(headers['authorization']) ?? nonEmpty(query['token']);
  if (token === undefined) {
    metrics.count('AuthFailures');
    log.warn('sse refused', { reason: 'no token', sourceIp });
    refuse(401, new RealtimeError(ErrorCode.AUTH_REQUIRED, 'A token is required: Authorization: Bearer <jwt>, or ?token=<jwt>'), {
      'www-authenticate': 'Bearer',
    });
    return;
  }
  let identity: Identity;
  try {
    identity = await deps.verifier.verify(token);
  } catch (error) {
    metrics.count('AuthFailures');
    if (!(error instanceof AuthError)) throw error;
    // The reason comes from the verifier and never contains the token.
    log.warn('sse refused', { reason: error.reason, sourceIp });
    if (error.kind === 'forbidden') refuse(403, new RealtimeError(ErrorCode.PERMISSION_DENIED, 'The token does not name a valid user'));
    else refuse(401, new RealtimeError(ErrorCode.AUTH_REQUIRED, 'The token is not valid'), { 'www-authenticate': 'Bearer error="invalid_token"' });
    return;
  }

  try {
    await deps.service.authorize(identity, channels);
  } catch (error) {
    if (error instanceof RealtimeError && STATUS[error.code] !== undefined) {
      log.info('sse channel refused', { userId: identity.userId, channel: error.channel, code: error.code });
      refuse(STATUS[error.code] ?? 400, error);
      return;
    }
    // A failure on our side (DynamoDB): a stream that ends at once with a temporary error, so
    // an EventSource retries (a non-200 answer would make it give up for good).
    log.error('sse authorization failed', { error });
    const sink = openStream(responseStream, cors.headersFor(origin));
    const failure = new RealtimeError(ErrorCode.INTERNAL, 'The stream could not start; reconnect to retry');
    await sink.write(formatRetry(deps.retryMs ?? 2000) + formatEvent({ event: 'error', data: JSON.stringify(errorMessage(failure, deps.clock.now())) }));
    sink.end();
    return;
  }

  const sink = openStream(responseStream, cors.headersFor(origin));
  const remaining = context.getRemainingTimeInMillis();
  const margin = Math.min(deps.endMarginMs ?? 10_000, Math.floor(remaining / 10));
  const budgetMs = Math.max(0, Math.min(deps.maxDurationMs, remaining - margin));
  const lastEventId = headers['last-event-id'] ?? query['lastEventId'];
  try {
    await deps.service.stream({ identity, channels, budgetMs, sink, ...(lastEventId !== undefined ? { lastEventId } : {}) });
  } finally {
    sink.end();
  }
}

/** The domain's sink over Lambda's response stream. */
export class ResponseStreamSink implements SseSink {
  readonly #stream: awslambda.ResponseStream;
  readonly #closed = new AbortController();

  constructor(stream: awslambda.ResponseStream) {
    this.#stream = stream;
    const close = (): void => this.#closed.abort();
    // The local runtime closes the stream when the client goes away. Lambda does not say so
    // reliably (a streamed response is not interrupted when the client leaves): a failed
    // write, the heartbeat at the latest, may tell; the stream's maximum duration bounds it.
    stream.once('close', close);
    stream.on('error', close);
  }

  get signal(): AbortSignal {
    return this.#closed.signal;
  }

  get closed(): boolean {
    return this.#closed.signal.aborted || this.#stream.destroyed || this.#stream.writableEnded;
  }

  write(chunk: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#stream.write(chunk, (error) => {
        if (error) this.#closed.abort();
        resolve();
      });
    });
  }

  end(): void {
    if (!this.#stream.destroyed && !this.#stream.writableEnded) this.#stream.end();
  }
}

function openStream(stream: awslambda.ResponseStream, corsHeaders: Record<string, string>): ResponseStreamSink {
  return new ResponseStreamSink(awslambda.HttpResponseStream.from(stream, { statusCode: 200, headers: { ...STREAM_HEADERS, ...corsHeaders } }));
}

function respond(stream: awslambda.ResponseStream, statusCode: number, body: unknown, headers: Record<string, string>): void {
  const out = awslambda.HttpResponseStream.from(stream, {
    statusCode,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
  });
  // Lambda sends the status with the first write: write even an empty body, then end.
  out.write(body === undefined ? '' : JSON.stringify(body));
  out.end();
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  return match?.[1];
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);
