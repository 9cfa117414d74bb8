/** SQS consumer: worker events (via EventBridge) and fan-out pages, with partial batch failures. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { instrumented } from './adapters/powertools.ts';
import { ChannelOrder } from './domain/fanout.ts';
import { fanout } from './wiring/fanout.ts';

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // Per invocation, not per module: nothing here may be shared by two batches (the local
  // runtime runs concurrent invocations in one module instance; Lambda never does).
  const processor = new BatchProcessor(EventType.SQS);
  const order = new ChannelOrder();
  // Records start in batch order; `order` chains the records of one channel, so they finish
  // in order too, while different channels run in parallel.
  const recordHandler = (record: SQSRecord): Promise<void> => fanout().processRecord(record.body, order);
  return instrumented({ function: 'fanout', records: event.Records.length }, () =>
    processPartialResponse(event, recordHandler, processor, { context }),
  );
}
