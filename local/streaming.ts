/**
 * A local `awslambda` global for response-streaming handlers (Lambda's Node.js runtime
 * provides it; no package does faithfully). Installed before a streaming handler module is
 * imported, since the module calls `awslambda.streamifyResponse` at load.
 *
 * - `streamifyResponse(handler)` marks the handler as Lambda's runtime does (a symbol on the
 *   function) and returns it; the runtime then calls it with `(event, responseStream, context)`.
 * - The response stream (`LocalResponseStream`) is a Writable whose chunks go straight to the
 *   HTTP response as they are written: nothing is buffered to the end.
 * - `HttpResponseStream.from(stream, { statusCode, headers, cookies })` sets the status and
 *   headers, sent just before the first byte; after the first write it throws (on Lambda the
 *   prelude would end up in the body).
 * - When the HTTP client goes away the stream is destroyed and emits `close`; later writes
 *   fail (their callback gets ERR_STREAM_DESTROYED), as Lambda's do once its connection is gone.
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';

/** The marker Lambda's runtime puts on a streamified handler. */
export const STREAMING_HANDLER = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';

export function streamifyResponse<TEvent = unknown>(handler: awslambda.StreamifyHandler<TEvent>): awslambda.StreamifyHandler<TEvent> {
  Object.defineProperty(handler, STREAMING_HANDLER, { value: STREAM_RESPONSE, configurable: true });
  return handler;
}

export function isStreamingHandler(fn: unknown): fn is awslambda.StreamifyHandler {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[STREAMING_HANDLER] === STREAM_RESPONSE;
}

/** A response stream over one HTTP response. */
export class LocalResponseStream extends Writable implements awslambda.ResponseStream {
  readonly #res: ServerResponse;
  #statusCode = 200;
  #headers: Record<string, string> = {};
  #cookies: string[] = [];
  #contentType = 'application/octet-stream';
  #bytes = 0;

  constructor(res: ServerResponse) {
    super();
    this.#res = res;
    res.once('close', () => {
      // The client went away before the response was complete.
      if (!res.writableFinished) this.destroy();
    });
  }

  /** Whether the status and headers went out (with the first write). */
  get headersSent(): boolean {
    return this.#res.headersSent;
  }

  /** Bytes written to the HTTP response so far. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  setContentType(contentType: string): void {
    if (this.#res.headersSent) throw new Error('Cannot set content-type, too late.');
    this.#contentType = contentType;
  }

  /** `HttpResponseStream.from`: the status and headers to send before the first byte. */
  setMetadata(metadata: awslambda.HttpResponseMetadata): void {
    if (this.#res.headersSent) throw new Error('HttpResponseStream.from() after the first write: the status and headers were already sent');
    this.#statusCode = metadata.statusCode ?? 200;
    this.#headers = Object.fromEntries(Object.entries(metadata.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    this.#cookies = metadata.cookies ?? [];
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const res = this.#res;
    if (res.destroyed) {
      callback(new Error('The client closed the connection'));
      return;
    }
    this.#sendHead();
    this.#bytes += chunk.length;
    if (res.write(chunk)) {
      callback();
      return;
    }
    // Backpressure: wait for the client to take it, or for the connection to go.
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      callback(res.destroyed ? new Error('The client closed the connection') : null);
    };
    res.once('drain', done);
    res.once('close', done);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const res = this.#res;
    if (res.destroyed) {
      callback();
      return;
    }
    this.#sendHead();
    res.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#res.writableEnded) this.#res.destroy();
    callback(error);
  }

  #sendHead(): void {
    const res = this.#res;
    if (res.headersSent) return;
    const headers: Record<string, string | string[]> = {
      ...(this.#statusCode === 204 || this.#statusCode === 304 ? {} : { 'content-type': this.#contentType }),
      ...this.#headers,
    };
    if (this.#cookies.length > 0) headers['set-cookie'] = this.#cookies;
    res.writeHead(this.#statusCode, headers);
  }
}

export const HttpResponseStream = {
  from(stream: awslambda.ResponseStream, metadata: awslambda.HttpResponseMetadata): awslambda.ResponseStream {
    if (!(stream instanceof LocalResponseStream)) throw new TypeError('HttpResponseStream.from() needs the response stream the runtime passed');
    stream.setMetadata(metadata);
    return stream;
  },
};

/**
 * Adds `streamifyResponse` and `HttpResponseStream` to `globalThis.awslambda`, unless a real
 * runtime (or an earlier shim) provides them. The object itself may already exist: Powertools
 * (through @aws/lambda-invoke-store) creates it to hang its InvokeStore on.
 */
export function installAwsLambdaShim(): void {
  const g = globalThis as { awslambda?: Record<string, unknown> };
  const target = (g.awslambda ??= {});
  target['streamifyResponse'] ??= streamifyResponse;
  target['HttpResponseStream'] ??= HttpResponseStream;
}
