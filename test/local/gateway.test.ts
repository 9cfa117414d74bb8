import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connect, disconnected, refusedUpgrade, startWithHarness, type Harness } from './support.ts';

const CONNECTION_ID = /^[A-Za-z0-9_-]{15}=$/;

describe('API Gateway WebSocket emulation', () => {
  let runtime: LocalRuntime;
  let harness: Harness;

  beforeAll(async () => {
    ({ runtime, harness } = await startWithHarness());
  });
  afterAll(async () => {
    await runtime.close();
    harness.destroy();
  });

  describe('upgrade: authorizer and $connect', () => {
    it('answers 401 without calling the authorizer when the token is missing or empty', async () => {
      const before = harness.calls.authorizer.length;
      const missing = await refusedUpgrade(runtime, '');
      expect(missing.status).toBe(401);
      expect(JSON.parse(missing.body)).toEqual({ message: 'Unauthorized' });
      expect(missing.headers['connection']).toBe('close');
      const empty = await refusedUpgrade(runtime, 'token=');
      expect(empty.status).toBe(401);
      expect(harness.calls.authorizer.length).toBe(before);
    });

    it('answers 401 when the authorizer throws Unauthorized', async () => {
      const before = harness.calls.authorizer.length;
      const res = await refusedUpgrade(runtime, 'token=nope');
      expect(res.status).toBe(401);
      expect(harness.calls.authorizer.length).toBe(before + 1);
    });

    it('answers 403 when the policy denies and 500 when the authorizer fails', async () => {
      expect((await refusedUpgrade(runtime, 'token=deny')).status).toBe(403);
      const failed = await refusedUpgrade(runtime, 'token=boom');
      expect(failed.status).toBe(500);
      expect(JSON.parse(failed.body)).toEqual({ message: 'Internal server error' });
    });

    it('refuses the upgrade with the status $connect returns, or 500 when it throws, without $disconnect', async () => {
      const connects = harness.calls.connect.length;
      const disconnects = harness.calls.disconnect.length;
      expect((await refusedUpgrade(runtime, 'token=good&reject=403')).status).toBe(403);
      expect((await refusedUpgrade(runtime, 'token=good&reject=429')).status).toBe(429);
      expect((await refusedUpgrade(runtime, 'token=good&reject=throw')).status).toBe(500);
      expect(harness.calls.connect.length).toBe(connects + 3);
      expect(harness.calls.disconnect.length).toBe(disconnects);
      expect(runtime.gateway.connectionCount).toBe(0);
    });

    it('passes a REQUEST authorizer event and a $connect event with the authorizer context', async () => {
      const client = await connect(runtime, 'token=good&room=a&room=b', { 'User-Agent': 'vitest-agent' });
      const auth = harness.calls.authorizer.at(-1);
      const conn = harness.calls.connect.at(-1);
      expect(auth && conn).toBeTruthy();
      if (!auth || !conn) return;

      expect(client.connectionId).toMatch(CONNECTION_ID);
      expect(auth.event).toMatchObject({
        type: 'REQUEST',
        methodArn: 'arn:aws:execute-api:us-east-1:000000000000:local-api/local/$connect',
        queryStringParameters: { token: 'good', room: 'b' },
        multiValueQueryStringParameters: { token: ['good'], room: ['a', 'b'] },
        requestContext: {
          routeKey: '$connect',
          eventType: 'CONNECT',
          messageDirection: 'IN',
          stage: 'local',
          apiId: 'local-api',
          connectionId: client.connectionId,
          domainName: `127.0.0.1:${String(runtime.port)}`,
          identity: { sourceIp: '127.0.0.1', userAgent: 'vitest-agent' },
        },
      });
      expect(auth.event.headers?.['Host']).toBe(`127.0.0.1:${String(runtime.port)}`);
      expect(auth.event.headers?.['Sec-WebSocket-Key']).toBeTruthy();
      expect(auth.event.multiValueHeaders?.['User-Agent']).toEqual(['vitest-agent']);
      expect(auth.context.functionName).toBe('realtime-ws-authorizer');

      const rc = conn.event.requestContext;
      expect(rc).toMatchObject({
        routeKey: '$connect',
        eventType: 'CONNECT',
        connectionId: client.connectionId,
        stage: 'local',
        identity: { sourceIp: '127.0.0.1', userAgent: 'vitest-agent' },
        authorizer: { userId: 'u1', name: 'Ada', principalId: 'u1' },
      });
      expect(typeof rc.authorizer['integrationLatency']).toBe('number');
      expect(rc.connectedAt).toBeLessThanOrEqual(Date.now());
      expect(rc.requestTimeEpoch).toBeGreaterThanOrEqual(rc.connectedAt);
      expect(rc.requestTime).toMatch(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
      expect(rc.requestId).toMatch(CONNECTION_ID);
      expect(conn.event.queryStringParameters).toEqual({ token: 'good', room: 'b' });
      expect(conn.event.headers?.['User-Agent']).toBe('vitest-agent');
      expect(conn.event.isBase64Encoded).toBe(false);

      // A realistic Lambda context per invocation.
      expect(conn.context).toMatchObject({
        functionName: 'realtime-ws-connect',
        functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:realtime-ws-connect',
        logGroupName: '/aws/lambda/realtime-ws-connect',
      });
      expect(conn.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(conn.context.awsRequestId).not.toBe(auth.context.awsRequestId);
      const remaining = conn.context.getRemainingTimeInMillis();
      expect(remaining).toBeGreaterThan(0);
      expect(remaining).toBeLessThanOrEqual(10_000);

      const gone = disconnected(runtime, client.connectionId);
      client.ws.close(1000, 'bye');
      expect(await gone).toEqual({ statusCode: 1000, reason: "Client-side close frame status code '1000' and reason 'bye'" });
      const [disc] = harness.disconnectsOf(client.connectionId);
      expect(disc?.event.requestContext).toMatchObject({
        routeKey: '$disconnect',
        eventType: 'DISCONNECT',
        disconnectStatusCode: 1000,
        connectionId: client.connectionId,
        authorizer: { userId: 'u1', principalId: 'u1' },
      });
      expect(disc?.context.functionName).toBe('realtime-ws-disconnect');
    });

    it('gives every connection its own id', async () => {
      const a = await connect(runtime);
      const b = await connect(runtime, 'token=bob');
      expect(a.connectionId).not.toBe(b.connectionId);
      expect(runtime.gateway.connectionIds()).toEqual(expect.arrayContaining([a.connectionId, b.connectionId]));
      expect(runtime.gateway.connectionCount).toBe(2);
      const closed = [disconnected(runtime, a.connectionId), disconnected(runtime, b.connectionId)];
      a.ws.close();
      b.ws.close();
      await Promise.all(closed);
      expect(runtime.gateway.connectionCount).toBe(0);
    });
  });

  describe('messages', () => {
    it('selects the route from the action: known → that route, unknown or not JSON → $default', async () => {
      const client = await connect(runtime);
      const cases: [string, string][] = [
        [JSON.stringify({ action: 'subscribe', channel: 'jobs.1' }), 'subscribe'],
        [JSON.stringify({ action: 'ping' }), 'ping'],
        [JSON.stringify({ action: 'unsubscribe', channel: 'jobs.1' }), 'unsubscribe'],
        [JSON.stringify({ action: 'publish' }), 'publish'],
        [JSON.stringify({ action: 'dance' }), '$default'],
        [JSON.stringify({ action: 42 }), '$default'],
        [JSON.stringify(['subscribe']), '$default'],
        ['not json at all', '$default'],
      ];
      for (const [body, routeKey] of cases) {
        client.ws.send(body);
        expect(await client.next()).toEqual({ routeKey, body, isBase64Encoded: false });
      }
      const last = harness.calls.message.at(-1)?.event;
      expect(last?.requestContext).toMatchObject({
        routeKey: '$default',
        eventType: 'MESSAGE',
        messageDirection: 'IN',
        connectionId: client.connectionId,
        authorizer: { userId: 'u1', name: 'Ada', principalId: 'u1' },
        identity: { sourceIp: '127.0.0.1' },
      });
      expect(last?.requestContext.messageId).toMatch(CONNECTION_ID);
      expect(harness.calls.message.at(-1)?.context.functionName).toBe('realtime-ws-message');
      client.ws.close();
      await client.closed;
    });

    it('closes the connection with 1003 on a binary frame, as API Gateway does, without invoking a route', async () => {
      const client = await connect(runtime);
      const before = harness.calls.message.length;
      const gone = disconnected(runtime, client.connectionId);
      client.ws.send(Buffer.from([0, 1, 2, 255]));
      expect((await client.closed).code).toBe(1003);
      expect((await gone).statusCode).toBe(1003);
      expect(harness.calls.message.length).toBe(before);
    });

    it('closes the connection with 1007 on a text frame that is not valid UTF-8, without invoking a route', async () => {
      const client = await connect(runtime);
      const before = harness.calls.message.length;
      const gone = disconnected(runtime, client.connectionId);
      // A text frame (opcode 1) whose payload is not UTF-8: ws validates it and closes with 1007.
      client.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect((await client.closed).code).toBe(1007);
      expect((await gone).statusCode).toBe(1007);
      expect(harness.calls.message.length).toBe(before);
    });

    it('invokes the handler for each message as it arrives, without serializing a connection', async () => {
      const client = await connect(runtime);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const started: string[] = [];
      let bothStarted!: () => void;
      const both = new Promise<void>((resolve) => (bothStarted = resolve));
      harness.onMessage = async (event) => {
        started.push(event.body ?? '');
        if (started.length === 2) bothStarted();
        await gate;
        return harness.echo(event);
      };
      try {
        client.ws.send('first');
        client.ws.send('second');
        await both; // the second started while the first was still running
        expect(started).toEqual(['first', 'second']);
        release();
        const replies = [await client.next(), await client.next()];
        expect(replies.map((r) => r['body']).sort()).toEqual(['first', 'second']);
      } finally {
        harness.onMessage = (event) => harness.echo(event);
      }
      client.ws.close();
      await client.closed;
    });

    it('tells the client when the integration fails, and keeps the connection', async () => {
      const client = await connect(runtime);
      client.ws.send('explode now');
      const error = await client.next();
      expect(error).toEqual({ message: 'Internal server error', connectionId: client.connectionId, requestId: expect.stringMatching(CONNECTION_ID) });
      client.ws.send('still there?');
      expect(await client.next()).toMatchObject({ body: 'still there?' });
      client.ws.close();
      await client.closed;
    });

    it('accepts a 128 KB message and closes with 1009 above it, running $disconnect once', async () => {
      const client = await connect(runtime);
      const max = 'x'.repeat(128 * 1024);
      const received = once(runtime.gateway, 'message');
      client.ws.send(max);
      await received;
      expect(harness.calls.message.at(-1)?.event.body?.length).toBe(128 * 1024);
      await client.next(); // the echo
      const gone = disconnected(runtime, client.connectionId);
      client.ws.send(`${max}y`);
      expect((await client.closed).code).toBe(1009);
      expect((await gone).statusCode).toBe(1009);
      expect(harness.disconnectsOf(client.connectionId)).toHaveLength(1);
    });
  });

  describe('dropWithoutDisconnect', () => {
    it('destroys the socket and forgets it without invoking $disconnect', async () => {
      const client = await connect(runtime);
      expect(runtime.gateway.dropWithoutDisconnect(client.connectionId)).toBe(true);
      expect((await client.closed).code).toBe(1006);
      expect(runtime.gateway.connectionIds()).not.toContain(client.connectionId);
      expect(runtime.gateway.connection(client.connectionId)).toBeUndefined();
      expect(harness.disconnectsOf(client.connectionId)).toHaveLength(0);
      expect(runtime.gateway.dropWithoutDisconnect(client.connectionId)).toBe(false);
    });
  });
});

describe('WebSocket timeouts', () => {
  it('closes an idle connection with 1001 (pings do not count, messages do) and runs $disconnect once', async () => {
    const { runtime, harness } = await startWithHarness({ idleTimeoutMs: 400 });
    try {
      const client = await connect(runtime);
      const opened = Date.now();
      // Data frames keep it open...
      const keepAlive = setInterval(() => client.ws.send('still here'), 100);
      const replies: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) replies.push(client.next());
      await Promise.all(replies);
      clearInterval(keepAlive);
      expect(client.ws.readyState).toBe(client.ws.OPEN);
      expect(Date.now() - opened).toBeGreaterThanOrEqual(700);
      // ...control frames do not.
      const pings = setInterval(() => client.ws.ping(), 50);
      const gone = disconnected(runtime, client.connectionId);
      const closed = await client.closed;
      clearInterval(pings);
      expect(closed.code).toBe(1001);
      expect(await gone).toEqual({ statusCode: 1001, reason: 'Going away' });
      await runtime.close();
      expect(harness.disconnectsOf(client.connectionId)).toHaveLength(1);
      expect(harness.disconnectsOf(client.connectionId)[0]?.event.requestContext.disconnectStatusCode).toBe(1001);
    } finally {
      await runtime.close();
      harness.destroy();
    }
  });

  it('closes a connection at the maximum duration with 1001 even when it is busy', async () => {
    const { runtime, harness } = await startWithHarness({ maxConnectionMs: 300 });
    try {
      const client = await connect(runtime);
      const opened = Date.now();
      const busy = setInterval(() => client.ws.send('busy'), 50);
      const gone = disconnected(runtime, client.connectionId);
      const closed = await client.closed;
      clearInterval(busy);
      expect(closed.code).toBe(1001);
      expect(Date.now() - opened).toBeGreaterThanOrEqual(290);
      expect((await gone).statusCode).toBe(1001);
      await runtime.close();
      expect(harness.disconnectsOf(client.connectionId)).toHaveLength(1);
    } finally {
      await runtime.close();
      harness.destroy();
    }
  });

  it('fails an invocation at the function timeout, like Lambda', async () => {
    const { runtime, harness } = await startWithHarness({ lambda: { timeoutMs: { message: 100, authorizer: 100 } } });
    try {
      harness.onMessage = () => new Promise(() => {}); // never settles
      const client = await connect(runtime);
      const started = Date.now();
      client.ws.send('slow');
      expect(await client.next()).toMatchObject({ message: 'Internal server error', connectionId: client.connectionId });
      expect(Date.now() - started).toBeGreaterThanOrEqual(95);
      client.ws.close();
      await client.closed;
    } finally {
      await runtime.close();
      harness.destroy();
    }
  });

  it('closes every connection with 1001 and runs $disconnect on close()', async () => {
    const { runtime, harness } = await startWithHarness();
    const a = await connect(runtime);
    const b = await connect(runtime);
    await runtime.close();
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    expect(harness.disconnectsOf(a.connectionId)).toHaveLength(1);
    expect(harness.disconnectsOf(b.connectionId)).toHaveLength(1);
    harness.destroy();
  });
});
