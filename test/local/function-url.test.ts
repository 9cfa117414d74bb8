/**
 * The local function URL and its `awslambda` response-streaming shim, with recording handlers:
 * the payload 2.0 event, chunks that reach the client as they are written, status and headers
 * before the first byte, client disconnects, the function timeout, and buffered handlers.
 */
import { once } from 'node:events';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.ts';
import { HttpResponseStream, LocalResponseStream, installAwsLambdaShim, isStreamingHandler, streamifyResponse } from '../../local/streaming.ts';
import { deferred } from '../unit/domain-fakes.ts';
import { Harness, startWithHarness } from './support.ts';

let runtime: LocalRuntime;
let harness: Harness;
beforeAll(async () => {
  ({ runtime, harness } = await startWithHarness({ lambda: { timeoutMs: { sse: 1500 } } }));
});
afterEach(async () => {
  harness.onSse = new Harness().onSse;
  await runtime.sse.idle();
});
afterAll(async () => {
  await runtime.close();
  harness.destroy();
});

/** Reads a streaming response chunk by chunk. */
async function reader(response: Response): Promise<{ next(): Promise<string | undefined> }> {
  const r = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  return {
    async next() {
      const { done, value } = await r.read();
      return done ? undefined : decoder.decode(value);
    },
  };
}

describe('awslambda shim', () => {
  it('marks a streamified handler as Lambda does, and installs the globals without replacing existing ones', () => {
    const handler = streamifyResponse(async () => {});
    expect(isStreamingHandler(handler)).toBe(true);
    expect(isStreamingHandler(async () => {})).toBe(false);
    installAwsLambdaShim();
    expect(awslambda.streamifyResponse).toBeTypeOf('function');
    expect(awslambda.HttpResponseStream.from).toBeTypeOf('function');
  });
});

describe('function URL (RESPONSE_STREAM)', () => {
  it('invokes the handler with a payload 2.0 event and a context with the function timeout', async () => {
    // Act
    const response = await fetch(`${runtime.sseUrl}?channels=jobs.J1,user.alice&x=1&x=2`, {
      headers: { Authorization: 'Bearer abc', 'Last-Event-ID': 'tok', Cookie: 'a=1; b=2', 'User-Agent': 'sse-test' },
    });
    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ rawPath: '/sse', rawQueryString: 'channels=jobs.J1,user.alice&x=1&x=2' });
    const { event, context } = harness.calls.sse.at(-1) as { event: LambdaFunctionURLEvent; context: { getRemainingTimeInMillis(): number; functionName: string } };
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/sse',
      cookies: ['a=1', 'b=2'],
      queryStringParameters: { channels: 'jobs.J1,user.alice', x: '1,2' },
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'GET', path: '/sse', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'sse-test' },
        routeKey: '$default',
        stage: '$default',
        timeEpoch: expect.any(Number),
        requestId: expect.any(String),
        domainName: expect.stringMatching(/\.lambda-url\.us-east-1\.on\.aws$/),
      },
    });
    expect(event.headers).toMatchObject({ authorization: 'Bearer abc', 'last-event-id': 'tok', 'user-agent': 'sse-test' });
    expect(Object.keys(event.headers).every((k) => k === k.toLowerCase())).toBe(true);
    expect(event.headers['cookie']).toBeUndefined();
    expect(context.functionName).toBe('realtime-sse');
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(1500);
  });

  it('sends each chunk to the client as it is written, with the status and headers set before the first byte', async () => {
    // Prepare: the handler writes, then waits for the test before writing again
    const release = deferred();
    harness.onSse = async (_event, stream) => {
      const out = HttpResponseStream.from(stream, { statusCode: 201, headers: { 'Content-Type': 'text/event-stream', 'X-Custom': 'yes' } });
      out.write('data: first\n\n');
      await release.promise;
      out.write('data: second\n\n');
      out.end();
    };
    // Act
    const response = await fetch(runtime.sseUrl);
    const chunks = await reader(response);
    const first = await chunks.next();
    // Assess: the first chunk arrived while the handler is still running
    expect(first).toBe('data: first\n\n');
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('x-custom')).toBe('yes');
    expect(runtime.sse.active).toBe(1);
    release.resolve();
    expect(await chunks.next()).toBe('data: second\n\n');
    expect(await chunks.next()).toBeUndefined();
  });

  it('refuses HttpResponseStream.from after the first write (the status is already sent)', async () => {
    const refused = deferred<unknown>();
    harness.onSse = async (_event, stream) => {
      stream.write('x');
      try {
        HttpResponseStream.from(stream, { statusCode: 500 });
      } catch (error) {
        refused.resolve(error);
      }
      stream.end();
    };
    const response = await fetch(runtime.sseUrl);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('x');
    expect(String(await refused.promise)).toMatch(/after the first write/);
  });

  it('closes and destroys the stream when the client goes away; later writes fail', async () => {
    // Prepare
    const closed = deferred();
    const writeError = deferred<Error | null | undefined>();
    harness.onSse = async (_event, stream) => {
      stream.write('hello');
      stream.once('close', () => closed.resolve());
      await closed.promise;
      expect(stream.destroyed).toBe(true);
      stream.write('too late', (error) => writeError.resolve(error));
    };
    const controller = new AbortController();
    const response = await fetch(runtime.sseUrl, { signal: controller.signal });
    await (await reader(response)).next();
    const settled = once(runtime.sse, 'settled');
    // Act
    controller.abort();
    // Assess
    await closed.promise;
    expect(await writeError.promise).toBeInstanceOf(Error);
    await settled;
    expect(runtime.sse.active).toBe(0);
  });

  it('cuts the response at the function timeout', async () => {
    harness.onSse = async (_event, stream) => {
      stream.write('started');
      await new Promise((resolve) => stream.once('close', resolve));
    };
    const settled = once(runtime.sse, 'settled');
    const response = await fetch(runtime.sseUrl);
    const chunks = await reader(response);
    expect(await chunks.next()).toBe('started');
    await expect(chunks.next()).rejects.toThrow();
    const [info] = (await settled) as [{ error?: string; ms: number }];
    expect(info.error).toMatch(/Task timed out after 1.50 seconds/);
  });

  it('answers 502 when the handler throws before its first byte', async () => {
    harness.onSse = async () => {
      throw new Error('boom');
    };
    const response = await fetch(runtime.sseUrl);
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ Message: 'Internal Server Error' });
  });

  it('ends the response when the handler returns without ending it', async () => {
    harness.onSse = async (_event, stream) => {
      stream.write('partial');
    };
    const response = await fetch(runtime.sseUrl);
    expect(await response.text()).toBe('partial');
  });

  it('is a LocalResponseStream the handler can set the content type of', async () => {
    harness.onSse = async (_event, stream) => {
      expect(stream).toBeInstanceOf(LocalResponseStream);
      stream.setContentType('text/plain');
      stream.end('plain');
    };
    const response = await fetch(runtime.sseUrl);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(await response.text()).toBe('plain');
  });
});

describe('function URL with a buffered handler', () => {
  it('answers with the handler result, as invoke mode BUFFERED does', async () => {
    const h = new Harness();
    const buffered = await startLocalRuntime({
      port: 0,
      log: 'silent',
      handlers: { ...h.handlers, sse: async () => ({ statusCode: 418, headers: { 'x-teapot': '1' }, body: 'short and stout' }) },
    });
    try {
      const response = await fetch(buffered.sseUrl);
      expect(response.status).toBe(418);
      expect(response.headers.get('x-teapot')).toBe('1');
      expect(await response.text()).toBe('short and stout');
    } finally {
      await buffered.close();
      h.destroy();
    }
  });
});
