import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterSink, FanoutPageTask, TaskQueue } from '../domain/ports.ts';

/** Hands fan-out pages to other invocations through the events queue. */
export class SqsTaskQueue implements TaskQueue {
  constructor(
    readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  async enqueue(task: FanoutPageTask): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(task) }));
  }
}

/** Parks a message that can never succeed in the dead-letter queue, with the reason. */
export class SqsDeadLetterSink implements DeadLetterSink {
  constructor(
    readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  async send(body: string, reason: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 1000) } },
      }),
    );
  }
}
