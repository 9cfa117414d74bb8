/**
 * Test support for the local runtime: in-memory handlers that record what they receive, and
 * WebSocket client helpers that await events instead of sleeping.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
  LambdaFunctionURLEvent,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import WebSocket from 'ws';
import type { LocalHandler } from '../../local/lambda-context.ts';
import { startLocalRuntime, type FunctionKey, type LocalRuntime, type LocalRuntimeOptions } from '../../local/runtime.ts';
import { HttpResponseStream, streamifyResponse } from '../../local/streaming.ts';
import type { WebSocketEvent, WebSocketResult } from '../../local/websocket-gateway.ts';

export const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
export const region = 'us-east-1';

export interface Invocation<E> {
  event: E;
  context: Context;
}

export function policy(effect: 'Allow' | 'Deny', resource: string, principalId: string, context?: Record<string, string>): APIGatewayAuthorizerResult {
  const result: APIGatewayAuthorizerResult = {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
  };
  if (context) result.context = context;
  return result;
}

/**
 * Recording handlers. Tokens: `good` (user u1, Allow), `bob` (user u2), `deny` (Deny),
 * `boom` (the authorizer throws), anything else → Unauthorized. `$connect` answers the
 * `reject` query parameter's status, or throws for `reject=throw`. The message handler echoes
 * `{ routeKey, body }` through the real management API client, built lazily from the env like
 * the real handlers do; bodies starting with `explode` make it throw.
 */
export class Harness {
  readonly calls = {
    authorizer: [] as Invocation<APIGatewayRequestAuthorizerEvent>[],
    connect: [] as Invocation<WebSocketEvent>[],
    disconnect: [] as Invocation<WebSocketEvent>[],
    message: [] as Invocation<WebSocketEvent>[],
    fanout: [] as Invocation<SQSEvent>[],
    sse: [] as Invocation<LambdaFunctionURLEvent>[],
  };
  /** Replace to change the behaviour of one test. */
  onMessage: (event: WebSocketEvent) => Promise<WebSocketResult | undefined> = (event) => this.echo(event);
  onFanout: (event: SQSEvent) => Promise<Partial<SQSBatchResponse> | null | undefined> = async () => ({ batchItemFailures: [] });
  /** The streaming function URL handler (`/sse`); by default it answers the event's path and query as JSON. */
  onSse: (event: LambdaFunctionURLEvent, stream: awslambda.ResponseStream, context: Context) => Promise<void> = async (event, stream) => {
    const out = HttpResponseStream.from(stream, { statusCode: 200, headers: { 'content-type': 'application/json' } });
    out.end(JSON.stringify({ rawPath: event.rawPath, rawQueryString: event.rawQueryString }));
  };
  #client: ApiGatewayManagementApiClient | undefined;

  get managementClient(): ApiGatewayManagementApiClient {
    this.#client ??= new ApiGatewayManagementApiClient({
      endpoint: process.env['WS_MANAGEMENT_ENDPOINT'],
      region: process.env['AWS_REGION'],
    });
    return this.#client;
  }

  async echo(event: WebSocketEvent): Promise<WebSocketResult> {
    if (event.body?.startsWith('explode')) throw new Error('handler exploded');
    const payload = JSON.stringify({ routeKey: event.requestContext.routeKey, body: event.body, isBase64Encoded: event.isBase64Encoded });
    await this.managementClient.send(
      new PostToConnectionCommand({ ConnectionId: event.requestContext.connectionId, Data: new TextEncoder().encode(payload) }),
    );
    return { statusCode: 200 };
  }

  readonly handlers: Record<FunctionKey, LocalHandler> = {
    authorizer: async (event: APIGatewayRequestAuthorizerEvent, context: Context) => {
      this.calls.authorizer.push({ event, context });
      const token = event.queryStringParameters?.['token'];
      if (token === 'good') return policy('Allow', event.methodArn, 'u1', { userId: 'u1', name: 'Ada' });
      if (token === 'bob') return policy('Allow', event.methodArn, 'u2', { userId: 'u2' });
      if (token === 'deny') return policy('Deny', event.methodArn, 'u3');
      if (token === 'boom') throw new Error('authorizer crashed');
      throw new Error('Unauthorized');
    },
    connect: async (event: WebSocketEvent, context: Context) => {
      this.calls.connect.push({ event, context });
      const reject = event.queryStringParameters?.['reject'];
      if (reject === 'throw') throw new Error('connect crashed');
      if (reject) return { statusCode: Number(reject) };
      return { statusCode: 200 };
    },
    disconnect: async (event: WebSocketEvent, context: Context) => {
      this.calls.disconnect.push({ event, context });
      return { statusCode: 200 };
    },
    message: async (event: WebSocketEvent, context: Context) => {
      this.calls.message.push({ event, context });
      return this.onMessage(event);
    },
    fanout: async (event: SQSEvent, context: Context) => {
      this.calls.fanout.push({ event, context });
      return this.onFanout(event);
    },
    sse: streamifyResponse<LambdaFunctionURLEvent>(async (event, stream, context) => {
      this.calls.sse.push({ event, context });
      await this.onSse(event, stream, context);
    }),
  };

  disconnectsOf(connectionId: string): Invocation<WebSocketEvent>[] {
    return this.calls.disconnect.filter((c) => c.event.requestContext.connectionId === connectionId);
  }

  destroy(): void {
    this.#client?.destroy();
    this.#client = undefined;
  }
}

export async function startWithHarness(options: LocalRuntimeOptions = {}): Promise<{ runtime: LocalRuntime; harness: Harness }> {
  const harness = new Harness();
  const runtime = await startLocalRuntime({ port: 0, log: 'silent', ...options, handlers: harness.handlers });
  return { runtime, harness };
}

// ---------------------------------------------------------------------------------------------
// WebSocket clients

export interface Client {
  ws: WebSocket;
  /** The connection id the runtime gave this client (from the `connect` event). */
  connectionId: string;
  /** The next text message, parsed as JSON. */
  next<T = Record<string, unknown>>(): Promise<T>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

export async function connect(runtime: LocalRuntime, query = 'token=good', headers: Record<string, string> = {}): Promise<Client> {
  const connected = new Promise<string>((resolve) => {
    const listener = ({ connectionId }: { connectionId: string }): void => {
      runtime.gateway.off('connect', listener);
      resolve(connectionId);
    };
    runtime.gateway.on('connect', listener);
  });
  const ws = new WebSocket(`${runtime.wsUrl}/?${query}`, { headers });
  const inbox: string[] = [];
  const waiters: ((text: string) => void)[] = [];
  ws.on('message', (data) => {
    const text = data.toString();
    const waiter = waiters.shift();
    if (waiter) waiter(text);
    else inbox.push(text);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => {});
  // Connections open one at a time in these tests, so the next `connect` event is ours.
  const connectionId = await connected;
  return {
    ws,
    connectionId,
    closed,
    next: <T>() =>
      new Promise<T>((resolve) => {
        const deliver = (text: string): void => resolve(JSON.parse(text) as T);
        const queued = inbox.shift();
        if (queued !== undefined) deliver(queued);
        else waiters.push(deliver);
      }),
  };
}

/** Attempts an upgrade that must be refused; resolves with the HTTP answer. */
export function refusedUpgrade(
  runtime: LocalRuntime,
  query: string,
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${runtime.wsUrl}/${query ? `?${query}` : ''}`);
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        req.destroy();
      });
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('the upgrade was accepted'));
    });
    ws.on('error', (error) => reject(error));
  });
}

/** Resolves with the next `disconnect` event of this connection (after `$disconnect` ran). */
export function disconnected(runtime: LocalRuntime, connectionId: string): Promise<{ statusCode: number; reason: string }> {
  return new Promise((resolve) => {
    const listener = (e: { connectionId: string; statusCode: number; reason: string }): void => {
      if (e.connectionId !== connectionId) return;
      runtime.gateway.off('disconnect', listener);
      resolve({ statusCode: e.statusCode, reason: e.reason });
    };
    runtime.gateway.on('disconnect', listener);
  });
}
