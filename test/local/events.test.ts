import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalEventBridge } from '../../local/eventbridge.ts';
import { createLog } from '../../local/log.ts';
import { LocalQueue, md5OfMessageAttributes } from '../../local/sqs.ts';
import { Timers } from '../../local/util.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { credentials, region, startWithHarness, type Harness } from './support.ts';

const jobUpdate = (jobId: string, extra: Record<string, unknown> = {}): PutEventsRequestEntry => ({
  EventBusName: 'realtime',
  Source: 'realtime.workers',
  DetailType: 'job.update',
  Detail: JSON.stringify({ jobId, userId: 'u1', status: 'running', timestamp: '2026-01-01T00:00:00Z', ...extra }),
});

const records = (harness: Harness): SQSRecord[] => harness.calls.fanout.flatMap((c) => c.event.Records);

describe('EventBridge PutEvents → SQS → fan-out', () => {
  let runtime: LocalRuntime;
  let harness: Harness;
  let events: EventBridgeClient;
  let sqs: SQSClient;

  beforeAll(async () => {
    ({ runtime, harness } = await startWithHarness({ sqs: { visibilityTimeoutMs: 50, maxReceiveCount: 3 } }));
    events = new EventBridgeClient({ endpoint: runtime.url, region, credentials });
    sqs = new SQSClient({ endpoint: runtime.url, region, credentials });
  });
  afterAll(async () => {
    events.destroy();
    sqs.destroy();
    await runtime.close();
    harness.destroy();
  });
  afterEach(async () => {
    harness.onFanout = async () => ({ batchItemFailures: [] });
    await runtime.queues.events.drained();
    runtime.queues.dlq.purge();
    harness.calls.fanout.length = 0;
  });

  it('delivers accepted events to the fan-out as SQS records with the EventBridge envelope', async () => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [jobUpdate('J1'), { ...jobUpdate('J2'), Time: new Date('2026-02-03T04:05:06.789Z') }, {
          Source: 'realtime.workers',
          DetailType: 'user.notification',
          Detail: JSON.stringify({ userId: 'u1', type: 'hello' }),
          EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/realtime',
        }],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries).toHaveLength(3);
    for (const e of out.Entries ?? []) expect(e.EventId).toMatch(/^[0-9a-f-]{36}$/);

    await runtime.queues.events.drained();
    const recs = records(harness);
    expect(recs).toHaveLength(3);
    // One batch: the three arrived in the same tick.
    expect(harness.calls.fanout).toHaveLength(1);
    const [first] = recs;
    expect(first).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:realtime-events',
      awsRegion: 'us-east-1',
      messageAttributes: {},
      attributes: { ApproximateReceiveCount: '1' },
    });
    expect(first?.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(first?.receiptHandle).toBeTruthy();
    expect(Number(first?.attributes.SentTimestamp)).toBeLessThanOrEqual(Number(first?.attributes.ApproximateFirstReceiveTimestamp));
    const bodies = recs.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({
      version: '0',
      id: out.Entries?.[0]?.EventId,
      'detail-type': 'job.update',
      source: 'realtime.workers',
      account: '000000000000',
      region: 'us-east-1',
      resources: [],
      detail: { jobId: 'J1', status: 'running' },
    });
    expect(bodies[0]?.['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(bodies[1]?.['time']).toBe('2026-02-03T04:05:06Z');
    expect(bodies[2]).toMatchObject({ 'detail-type': 'user.notification', detail: { userId: 'u1', type: 'hello' } });
    expect(harness.calls.fanout[0]?.context.functionName).toBe('realtime-fanout');
  });

  it('fails malformed entries one by one and delivers the others', async () => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          jobUpdate('J3'),
          { EventBusName: 'realtime', Source: 'realtime.workers', DetailType: 'job.update', Detail: 'not json' },
          { EventBusName: 'realtime', Source: 'realtime.workers', DetailType: 'job.update', Detail: '[1,2]' },
          { EventBusName: 'realtime', DetailType: 'job.update', Detail: '{}' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(3);
    expect(out.Entries?.[0]?.EventId).toBeTruthy();
    expect(out.Entries?.[1]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(out.Entries?.[2]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(out.Entries?.[3]).toMatchObject({ ErrorCode: 'InvalidArgument' });
    await runtime.queues.events.drained();
    expect(records(harness).map((r) => (JSON.parse(r.body) as { detail: { jobId: string } }).detail.jobId)).toEqual(['J3']);
  });

  it('rejects more than 10 entries and more than 256 KB with ValidationException', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => jobUpdate(`J${String(i)}`));
    await expect(events.send(new PutEventsCommand({ Entries: eleven }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    const big = Array.from({ length: 2 }, () => jobUpdate('JB', { message: 'x'.repeat(140 * 1024) }));
    await expect(events.send(new PutEventsCommand({ Entries: big }))).rejects.toMatchObject({ name: 'ValidationException' });
    expect(runtime.queues.events.size).toBe(0);
  });

  it('routes the configured detail types, from any bus by default', async () => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          { ...jobUpdate('J4'), DetailType: 'something.else' },
          { ...jobUpdate('J5'), EventBusName: undefined },
          { ...jobUpdate('J6'), DetailType: 'user.notification' },
          { ...jobUpdate('J7'), DetailType: 'document.permission' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    await runtime.queues.events.drained();
    expect(records(harness).map((r) => (JSON.parse(r.body) as { 'detail-type': string })['detail-type'])).toEqual([
      'job.update',
      'user.notification',
      'document.permission',
    ]);
  });

  it('matches rules on their bus, source and detail type', () => {
    const timers = new Timers();
    const queue = new LocalQueue({ name: 'q', region, baseUrl: 'http://x', visibilityTimeoutMs: 1000, maxMessageBytes: 1024, timers, log: createLog('silent') });
    const bus = new LocalEventBridge({
      region,
      defaultBusName: 'realtime',
      rules: [{ name: 'strict', eventBusName: 'realtime', source: ['realtime.workers'], detailType: ['job.update'], queue: 'q' }],
      queue: (name) => (name === 'q' ? queue : undefined),
      log: createLog('silent'),
    });
    const entry = { Source: 'realtime.workers', DetailType: 'job.update', Detail: '{}' };
    bus.putEvents({
      Entries: [
        { ...entry, EventBusName: 'realtime' },
        { ...entry, EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/realtime' },
        { ...entry }, // the default bus
        { ...entry, EventBusName: 'realtime', Source: 'someone.else' },
        { ...entry, EventBusName: 'realtime', DetailType: 'job.other' },
      ],
    });
    expect(queue.size).toBe(2);
    expect(bus.stats).toMatchObject({ accepted: 5, delivered: 2, unmatched: 3 });
    queue.close();
    timers.closeAll();
  });

  it('redelivers failed batch items with a growing ApproximateReceiveCount and moves them to the DLQ after maxReceiveCount', async () => {
    harness.onFanout = async (event) => ({
      batchItemFailures: event.Records.filter((r) => {
        if (r.body === 'poison') return true;
        if (r.body === 'flaky') return r.attributes.ApproximateReceiveCount === '1';
        return false;
      }).map((r) => ({ itemIdentifier: r.messageId })),
    });
    const poison = runtime.queues.events.send('poison');
    runtime.queues.events.send('flaky');
    runtime.queues.events.send('fine');
    await runtime.queues.events.drained();

    const counts = (body: string): string[] => records(harness).filter((r) => r.body === body).map((r) => r.attributes.ApproximateReceiveCount);
    expect(counts('poison')).toEqual(['1', '2', '3']);
    expect(counts('flaky')).toEqual(['1', '2']);
    expect(counts('fine')).toEqual(['1']);
    expect(runtime.queues.events.size).toBe(0);

    const dead = runtime.queues.dlq.messages();
    expect(dead.map((m) => m.body)).toEqual(['poison']);
    expect(dead[0]?.messageId).toBe(poison.messageId);
    expect(runtime.queues.dlq.size).toBe(1);
    expect(runtime.queues.dlq.visible).toBe(1);
  });

  it('returns every message of a batch whose handler throws', async () => {
    let calls = 0;
    harness.onFanout = async () => {
      calls++;
      if (calls === 1) throw new Error('fan-out crashed');
      return { batchItemFailures: [] };
    };
    runtime.queues.events.send('a');
    runtime.queues.events.send('b');
    await runtime.queues.events.drained();
    const seen = records(harness).map((r) => `${r.body}:${r.attributes.ApproximateReceiveCount}`);
    expect(seen).toEqual(['a:1', 'b:1', 'a:2', 'b:2']);
    expect(runtime.queues.dlq.size).toBe(0);
  });

  it('fails the whole batch when batchItemFailures names an unknown message', async () => {
    let calls = 0;
    harness.onFanout = async () => (++calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'no-such-id' }] } : {});
    runtime.queues.events.send('c');
    await runtime.queues.events.drained();
    expect(records(harness).map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
  });

  it('batches up to 10 records with up to maxConcurrency batches in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    harness.onFanout = async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return { batchItemFailures: [] };
    };
    for (let i = 0; i < 35; i++) runtime.queues.events.send(`m${String(i)}`);
    await runtime.queues.events.drained();
    const sizes = harness.calls.fanout.map((c) => c.event.Records.length);
    expect(sizes).toEqual([10, 10, 10, 5]);
    expect(maxInFlight).toBe(4);
    // Delivered in the order sent.
    expect(records(harness).map((r) => r.body)).toEqual(Array.from({ length: 35 }, (_, i) => `m${String(i)}`));
  });

  describe('SQS API (JSON 1.0) through the real SQSClient', () => {
    it('SendMessage and SendMessageBatch reach the fan-out, with message attributes', async () => {
      const queueUrl = runtime.env['EVENTS_QUEUE_URL'];
      expect(queueUrl).toBe(`${runtime.url}/000000000000/realtime-events`);
      const sent = await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: '{"kind":"fanout.page"}',
          MessageAttributes: { reason: { DataType: 'String', StringValue: 'because' } },
        }),
      );
      expect(sent.MessageId).toBeTruthy();
      expect(sent.MD5OfMessageAttributes).toBe(md5OfMessageAttributes({ reason: { DataType: 'String', StringValue: 'because' } }));
      const batch = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [
            { Id: 'one', MessageBody: 'b1' },
            { Id: 'two', MessageBody: 'b2' },
          ],
        }),
      );
      expect(batch.Successful?.map((s) => s.Id)).toEqual(['one', 'two']);
      expect(batch.Failed ?? []).toEqual([]);
      await runtime.queues.events.drained();
      const recs = records(harness);
      expect(recs.map((r) => r.body)).toEqual(['{"kind":"fanout.page"}', 'b1', 'b2']);
      expect(recs[0]?.messageAttributes).toEqual({
        reason: { dataType: 'String', stringValue: 'because', stringListValues: [], binaryListValues: [] },
      });
      expect(recs[0]?.md5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    });

    it('enforces the 256 KB message size, 10 entries per batch and known queues', async () => {
      const queueUrl = runtime.queues.events.url;
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x'.repeat(256 * 1024) }));
      await expect(sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x'.repeat(256 * 1024 + 1) }))).rejects.toMatchObject({
        name: 'InvalidParameterValue',
        $metadata: { httpStatusCode: 400 },
      });
      const eleven = Array.from({ length: 11 }, (_, i) => ({ Id: `e${String(i)}`, MessageBody: 'x' }));
      await expect(sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: eleven }))).rejects.toMatchObject({
        name: 'TooManyEntriesInBatchRequest',
      });
      await expect(
        sqs.send(new SendMessageCommand({ QueueUrl: `${runtime.url}/000000000000/nope`, MessageBody: 'x' })),
      ).rejects.toBeInstanceOf(QueueDoesNotExist);
      await runtime.queues.events.drained();
    });

    it('lets tests and operators look into the DLQ: GetQueueAttributes, ReceiveMessage, DeleteMessage, PurgeQueue', async () => {
      const dlqUrl = runtime.env['EVENTS_DLQ_URL'];
      expect(dlqUrl).toBe(runtime.queues.dlq.url);
      await sqs.send(
        new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'parked', MessageAttributes: { reason: { DataType: 'String', StringValue: 'malformed' } } }),
      );
      await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'parked too' }));
      const attrs = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      expect(attrs.Attributes).toEqual({ ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '0' });

      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
      );
      expect(received.Messages?.map((m) => m.Body)).toEqual(['parked', 'parked too']);
      expect(received.Messages?.[0]?.MessageAttributes).toEqual({ reason: { DataType: 'String', StringValue: 'malformed' } });
      expect(received.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
      const inFlight = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }));
      expect(inFlight.Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '2' });

      const first = received.Messages?.[0];
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: first?.ReceiptHandle }));
      expect(runtime.queues.dlq.size).toBe(1);
      expect(runtime.queues.dlq.inFlight).toBe(1);
      await sqs.send(new PurgeQueueCommand({ QueueUrl: dlqUrl }));
      expect(runtime.queues.dlq.size).toBe(0);

      // Long polling returns as soon as a message arrives.
      const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 5 }));
      await new Promise((resolve) => setImmediate(resolve));
      runtime.queues.dlq.send('late');
      expect((await polling).Messages?.map((m) => m.Body)).toEqual(['late']);
    });
  });
});
