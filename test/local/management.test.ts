import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connect, credentials, disconnected, region, startWithHarness, type Harness } from './support.ts';

const encoder = new TextEncoder();

describe('@connections management API through the real SDK client', () => {
  let runtime: LocalRuntime;
  let harness: Harness;
  let client: ApiGatewayManagementApiClient;

  beforeAll(async () => {
    ({ runtime, harness } = await startWithHarness());
    client = new ApiGatewayManagementApiClient({ endpoint: runtime.managementEndpoint, region, credentials });
  });
  afterAll(async () => {
    client.destroy();
    await runtime.close();
    harness.destroy();
  });
  afterEach(() => {
    runtime.management.injectFaults(undefined);
    runtime.management.latencyMs = 0;
    runtime.management.acceptUnknownConnections = false;
  });

  it('is at WS_MANAGEMENT_ENDPOINT', () => {
    expect(runtime.managementEndpoint).toBe(`http://127.0.0.1:${String(runtime.port)}/local`);
    expect(process.env['WS_MANAGEMENT_ENDPOINT']).toBe(runtime.managementEndpoint);
  });

  it('PostToConnection sends a text frame', async () => {
    const ws = await connect(runtime);
    const frames: boolean[] = [];
    ws.ws.on('message', (_data, isBinary) => frames.push(isBinary));
    const out = await client.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: encoder.encode('{"hello":"world"}') }));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(await ws.next()).toEqual({ hello: 'world' });
    expect(frames).toEqual([false]);
    ws.ws.close();
    await ws.closed;
  });

  it('GetConnection describes the connection', async () => {
    const before = Date.now();
    const ws = await connect(runtime, 'token=good', { 'User-Agent': 'agent/1.0' });
    const out = await client.send(new GetConnectionCommand({ ConnectionId: ws.connectionId }));
    expect(out.ConnectedAt).toBeInstanceOf(Date);
    expect(out.ConnectedAt?.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(out.LastActiveAt).toBeInstanceOf(Date);
    expect(out.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'agent/1.0' });
    ws.ws.send('activity');
    await ws.next();
    const later = await client.send(new GetConnectionCommand({ ConnectionId: ws.connectionId }));
    expect(later.LastActiveAt?.getTime()).toBeGreaterThanOrEqual(out.LastActiveAt?.getTime() ?? Infinity);
    ws.ws.close();
    await ws.closed;
  });

  it('DeleteConnection closes the socket with 1000 and runs $disconnect', async () => {
    const ws = await connect(runtime);
    const gone = disconnected(runtime, ws.connectionId);
    const out = await client.send(new DeleteConnectionCommand({ ConnectionId: ws.connectionId }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    expect((await ws.closed).code).toBe(1000);
    expect((await gone).statusCode).toBe(1000);
    expect(harness.disconnectsOf(ws.connectionId)).toHaveLength(1);
  });

  it('answers 410 GoneException for unknown and closed connections', async () => {
    await expect(client.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: encoder.encode('x') }))).rejects.toBeInstanceOf(
      GoneException,
    );
    const ws = await connect(runtime);
    const gone = disconnected(runtime, ws.connectionId);
    ws.ws.close();
    await gone;
    const post = client.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: encoder.encode('x') }));
    await expect(post).rejects.toBeInstanceOf(GoneException);
    await expect(post).rejects.toMatchObject({ $metadata: { httpStatusCode: 410 } });
    await expect(client.send(new GetConnectionCommand({ ConnectionId: ws.connectionId }))).rejects.toBeInstanceOf(GoneException);
    await expect(client.send(new DeleteConnectionCommand({ ConnectionId: ws.connectionId }))).rejects.toBeInstanceOf(GoneException);
  });

  it('answers 410 for a connection dropped without $disconnect', async () => {
    const ws = await connect(runtime);
    runtime.gateway.dropWithoutDisconnect(ws.connectionId);
    await expect(client.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: encoder.encode('x') }))).rejects.toBeInstanceOf(
      GoneException,
    );
  });

  it('accepts 128 KB and answers 413 PayloadTooLargeException above it', async () => {
    const ws = await connect(runtime);
    const max = new Uint8Array(128 * 1024).fill(0x61);
    await client.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: max }));
    const tooBig = new Uint8Array(128 * 1024 + 1).fill(0x61);
    await expect(client.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: tooBig }))).rejects.toBeInstanceOf(
      PayloadTooLargeException,
    );
    expect(runtime.management.stats.tooLarge).toBe(1);
    ws.ws.close();
    await ws.closed;
  });

  it('adds the configured latency to every call', async () => {
    const ws = await connect(runtime);
    runtime.management.latencyMs = 100;
    const started = Date.now();
    await client.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: encoder.encode('{}') }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    ws.ws.close();
    await ws.closed;
  });

  it('injects throttling that the SDK retries, and counts calls', async () => {
    const ws = await connect(runtime);
    runtime.management.resetStats();
    const seen: [string, number][] = [];
    runtime.management.injectFaults((connectionId, attempt) => {
      seen.push([connectionId, attempt]);
      return attempt === 1 ? { status: 429, errorType: 'LimitExceededException' } : undefined;
    });
    const out = await client.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: encoder.encode('{"n":1}') }));
    expect(out.$metadata.attempts).toBe(2);
    expect(await ws.next()).toEqual({ n: 1 });
    expect(seen).toEqual([
      [ws.connectionId, 1],
      [ws.connectionId, 2],
    ]);
    expect(runtime.management.stats).toMatchObject({ posts: 2, delivered: 1, throttled: 1, gone: 0 });

    // Without retries the throttle surfaces as LimitExceededException (429).
    const noRetry = new ApiGatewayManagementApiClient({ endpoint: runtime.managementEndpoint, region, credentials, maxAttempts: 1 });
    runtime.management.injectFaults(() => ({ status: 429, errorType: 'LimitExceededException' }));
    const throttled = noRetry.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: encoder.encode('{}') }));
    await expect(throttled).rejects.toBeInstanceOf(LimitExceededException);
    await expect(throttled).rejects.toMatchObject({ $metadata: { httpStatusCode: 429 } });

    runtime.management.injectFaults(() => ({ status: 500 }));
    await expect(noRetry.send(new PostToConnectionCommand({ ConnectionId: ws.connectionId, Data: encoder.encode('{}') }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 500 },
    });
    expect(runtime.management.stats.failed).toBe(1);
    noRetry.destroy();
    ws.ws.close();
    await ws.closed;
  });

  it('lets the echo handler reply through the same API (handlers read WS_MANAGEMENT_ENDPOINT)', async () => {
    const ws = await connect(runtime);
    ws.ws.send(JSON.stringify({ action: 'ping' }));
    expect(await ws.next()).toMatchObject({ routeKey: 'ping' });
    ws.ws.close();
    await ws.closed;
  });

  it('answers 200 for connections it does not hold only with the bench-only acceptUnknownConnections switch, and counts them', async () => {
    const post = () => client.send(new PostToConnectionCommand({ ConnectionId: 'synthetic-000001', Data: encoder.encode('{}') }));
    await expect(post()).rejects.toBeInstanceOf(GoneException);
    runtime.management.acceptUnknownConnections = true;
    runtime.management.resetStats();
    runtime.management.syntheticPosts = 0;
    const out = await post();
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(runtime.management.syntheticPosts).toBe(1);
    expect(runtime.management.stats).toMatchObject({ posts: 1, delivered: 1, gone: 0 });
  });
});
