/** SQS consumer: worker events (via EventBridge) and fan-out pages, with partial batch failures. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { instrumented } from './adapters/powertools.ts';
import { fanout } from './wiring/fanout.ts';

const processor = new BatchProcessor(EventType.SQS);

// Records start in batch order; the fan-out chains records of one channel, so they finish in
// order too, while different channels run in parallel.
const recordHandler = (record: SQSRecord): Promise<void> => fanout().processRecord(record.body);

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  return instrumented({ function: 'fanout', records: event.Records.length }, () =>
    processPartialResponse(event, recordHandler, processor, { context }),
  );
}
