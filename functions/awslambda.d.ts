/**
 * The `awslambda` global of the Lambda Node.js runtime, for response streaming (function URLs
 * with invoke mode RESPONSE_STREAM). No package provides it; the local runtime installs a shim
 * of its own (local/streaming.ts) before it imports a streaming handler.
 */
import type { Context } from 'aws-lambda';
import type { Writable } from 'node:stream';

declare global {
  namespace awslambda {
    /**
     * What a streaming handler writes its response to: a Writable (in Lambda, the runtime's
     * chunked HTTP request to the Runtime API). End it when done.
     */
    interface ResponseStream extends Writable {
      /** Only before the first write. */
      setContentType(contentType: string): void;
    }

    /** Status and headers of an HTTP response, sent before the first byte of the body. */
    interface HttpResponseMetadata {
      statusCode?: number;
      headers?: Record<string, string>;
      cookies?: string[];
    }

    type StreamifyHandler<TEvent = unknown> = (event: TEvent, responseStream: ResponseStream, context: Context) => Promise<void>;

    /** Marks a handler as streaming: the runtime then calls it with a response stream. */
    function streamifyResponse<TEvent = unknown>(
      handler: StreamifyHandler<TEvent>,
      options?: { highWaterMark?: number },
    ): StreamifyHandler<TEvent>;

    const HttpResponseStream: {
      /** Sets the status and headers, written (as a prelude) before the first write; returns the stream to write to. */
      from(responseStream: ResponseStream, metadata: HttpResponseMetadata): ResponseStream;
    };
  }
}

export {};
