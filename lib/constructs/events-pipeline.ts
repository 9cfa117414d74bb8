/**
 * Workers' events: an EventBridge bus, one rule per detail-type the fan-out handles, the
 * events queue those rules feed, and its dead-letter queue. Numbers shared with the local
 * runtime come from EVENTS_QUEUE_SETTINGS (functions/handlers.ts).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENTS_QUEUE_SETTINGS } from '../../functions/handlers.ts';
import { DETAIL_TYPES } from '../../functions/domain/messages.ts';

export interface EventsPipelineProps {
  /** @default 'realtime' (the local runtime's default too) */
  readonly eventBusName?: string;
}

export class EventsPipeline extends Construct {
  readonly bus: events.EventBus;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** By detail-type: `job.update`, `user.notification`, `document.permission`. */
  readonly rules: Readonly<Record<string, events.Rule>>;

  constructor(scope: Construct, id: string, props: EventsPipelineProps = {}) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: props.eventBusName ?? 'realtime' });

    // SSE-SQS (not a KMS key): EventBridge can send to it without a key policy, at no key fee.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(EVENTS_QUEUE_SETTINGS.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: EVENTS_QUEUE_SETTINGS.maxReceiveCount },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Matched on detail-type only, like the local runtime's rule: the fan-out validates the rest.
    const rules: Record<string, events.Rule> = {};
    for (const [key, detailType] of Object.entries(DETAIL_TYPES)) {
      rules[detailType] = new events.Rule(this, `Rule-${key}`, {
        eventBus: this.bus,
        description: `${detailType} events to the fan-out queue`,
        eventPattern: { detailType: [detailType] },
        // What EventBridge cannot deliver (the queue refusing, say) lands in the same DLQ.
        targets: [new targets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 8 })],
      });
    }
    this.rules = rules;
  }

  /** `events:PutEvents` on this bus only: what a worker needs to publish. */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.bus.grantPutEventsTo(grantee);
  }

  /** The fan-out sends pages back to the queue and poisoned records to the DLQ. */
  grantFanoutSends(grantee: iam.IGrantable): void {
    this.queue.grantSendMessages(grantee);
    this.deadLetterQueue.grantSendMessages(grantee);
  }

  /** `EVENTS_QUEUE_URL` and `EVENTS_DLQ_URL` for the fan-out. */
  bind(): Record<string, string> {
    return { EVENTS_QUEUE_URL: this.queue.queueUrl, EVENTS_DLQ_URL: this.deadLetterQueue.queueUrl };
  }
}
