import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import type { Log } from '../../functions/domain/ports.ts';
import { startLocalRuntime } from '../../local/runtime.ts';
import { connect, credentials, region, startWithHarness } from './support.ts';

const ENV_NAMES = [
  'WS_MANAGEMENT_ENDPOINT',
  'EVENTS_QUEUE_URL',
  'EVENTS_DLQ_URL',
  'SQS_ENDPOINT',
  'EVENTBRIDGE_ENDPOINT',
  'DYNAMODB_ENDPOINT',
  'TABLE_NAME',
  'EVENT_BUS_NAME',
] as const;

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

describe('local runtime lifecycle', () => {
  it('sets the environment for the handlers and restores it on close', async () => {
    const before = Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]));
    const { runtime, harness } = await startWithHarness();
    const url = `http://127.0.0.1:${String(runtime.port)}`;
    expect(runtime.port).toBeGreaterThan(0);
    expect(runtime.url).toBe(url);
    expect(runtime.wsUrl).toBe(`ws://127.0.0.1:${String(runtime.port)}`);
    expect(process.env).toMatchObject({
      AWS_REGION: 'us-east-1',
      TABLE_NAME: 'realtime',
      EVENT_BUS_NAME: 'realtime',
      WS_MANAGEMENT_ENDPOINT: `${url}/local`,
      EVENTS_QUEUE_URL: `${url}/000000000000/realtime-events`,
      EVENTS_DLQ_URL: `${url}/000000000000/realtime-events-dlq`,
      SQS_ENDPOINT: url,
      EVENTBRIDGE_ENDPOINT: url,
      DYNAMODB_ENDPOINT: runtime.dynamodb.endpoint,
    });
    expect(runtime.dynamodb.embedded).toBe(true);
    expect(runtime.env['WS_MANAGEMENT_ENDPOINT']).toBe(`${url}/local`);
    await runtime.close();
    harness.destroy();
    expect(Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]))).toEqual(before);
  });

  it('uses a given DynamoDB endpoint instead of starting dynalite, creating the table there', async () => {
    const first = await startWithHarness();
    const second = await startWithHarness({ dynamodb: { endpoint: first.runtime.dynamodb.endpoint, tableName: 'other-table' } });
    try {
      expect(second.runtime.dynamodb.embedded).toBe(false);
      expect(second.runtime.dynamodb.endpoint).toBe(first.runtime.dynamodb.endpoint);
      expect(process.env['TABLE_NAME']).toBe('other-table');
      expect((await second.runtime.health()).status).toBe('healthy');
    } finally {
      await second.runtime.close();
      await first.runtime.close();
    }
  });

  it('answers GET /health with the checks, 503 when one fails, and 404 JSON for unknown paths', async () => {
    let redisUp = true;
    const { runtime, harness } = await startWithHarness({
      healthChecks: [
        {
          name: 'redis',
          check: async () => {
            if (!redisUp) throw new Error('connection refused');
          },
        },
      ],
    });
    try {
      const healthy = await fetch(`${runtime.url}/health`);
      expect(healthy.status).toBe(200);
      const body = (await healthy.json()) as { status: string; checks: { name: string; status: string }[]; timestamp: string };
      expect(body.status).toBe('healthy');
      expect(body.checks.map((c) => [c.name, c.status])).toEqual([
        ['dynamodb', 'healthy'],
        ['presence', 'healthy'],
        ['redis', 'healthy'],
      ]);
      expect(Date.parse(body.timestamp)).not.toBeNaN();

      redisUp = false;
      const degraded = await fetch(`${runtime.url}/health`);
      expect(degraded.status).toBe(503);
      expect(await degraded.json()).toMatchObject({
        status: 'degraded',
        checks: [
          { name: 'dynamodb', status: 'healthy' },
          { name: 'presence', status: 'healthy' },
          { name: 'redis', status: 'unhealthy', reason: 'connection refused' },
        ],
      });

      const missing = await fetch(`${runtime.url}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ message: 'Not Found' });
    } finally {
      await runtime.close();
      harness.destroy();
    }
  });

  it('reports degraded health when DynamoDB is gone', async () => {
    const first = await startWithHarness();
    const second = await startWithHarness({ dynamodb: { endpoint: first.runtime.dynamodb.endpoint } });
    await first.runtime.close();
    try {
      const report = await second.runtime.health();
      expect(report.status).toBe('degraded');
      expect(report.checks[0]).toMatchObject({ name: 'dynamodb', status: 'unhealthy' });
    } finally {
      await second.runtime.close();
    }
  });

  it('refuses a port in use with a clear error and leaves nothing behind', async () => {
    const { runtime, harness } = await startWithHarness();
    try {
      await expect(startLocalRuntime({ port: runtime.port, log: 'silent', handlers: harness.handlers })).rejects.toThrow(/in use/);
    } finally {
      await runtime.close();
    }
  });

  it('logs what it does at debug level through the given Log', async () => {
    const lines: string[] = [];
    const capture: Log = {
      debug: (m, a) => lines.push(`debug ${m} ${String(a?.['component'])}`),
      info: (m, a) => lines.push(`info ${m} ${String(a?.['component'])}`),
      warn: (m, a) => lines.push(`warn ${m} ${String(a?.['component'])}`),
      error: (m, a) => lines.push(`error ${m} ${String(a?.['component'])}`),
    };
    const { runtime, harness } = await startWithHarness({ log: capture });
    const client = await connect(runtime);
    client.ws.close();
    await client.closed;
    await runtime.close();
    harness.destroy();
    expect(lines).toEqual(expect.arrayContaining(['info local runtime ready undefined', 'debug connected gateway', 'info local runtime closed undefined']));
  });

  it('close() leaves no server, socket or timer running', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    const before = resourceCounts();
    const { runtime, harness } = await startWithHarness({ sqs: { visibilityTimeoutMs: 20 } });
    const eventbridge = new EventBridgeClient({ endpoint: runtime.url, region, credentials });

    // Exercise everything: a connection, a post, an event through the queue (one failed delivery
    // leaves a visibility timer), a delayed message, a pending long poll.
    const client = await connect(runtime);
    client.ws.send('hello');
    await client.next();
    await harness.managementClient.send(new PostToConnectionCommand({ ConnectionId: client.connectionId, Data: new TextEncoder().encode('{}') }));
    await client.next();
    let failedOnce = false;
    harness.onFanout = async (event) => {
      if (failedOnce) return {};
      failedOnce = true;
      return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
    };
    await eventbridge.send(
      new PutEventsCommand({ Entries: [{ EventBusName: 'realtime', Source: 's', DetailType: 'job.update', Detail: '{"jobId":"J"}' }] }),
    );
    runtime.queues.events.send('later', { delaySeconds: 600 });

    await runtime.close();
    eventbridge.destroy();
    harness.destroy();
    expect((await client.closed).code).toBe(1001);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));

    const after = resourceCounts();
    // (Earlier tests may leave a handle that is going away on its own: nothing may be added.)
    for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout', 'Immediate']) {
      expect({ kind, count: after.get(kind) ?? 0 }).toEqual({ kind, count: Math.min(after.get(kind) ?? 0, before.get(kind) ?? 0) });
    }
    // Closing twice is harmless.
    await runtime.close();
  });
});
