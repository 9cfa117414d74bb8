/**
 * The fan-out: the SQS consumer that applies worker events and posts them to subscribers. It
 * sits in the VPC (presence departures go through Redis) and posts through the NAT.
 *
 * Event source: batches of EVENTS_QUEUE_SETTINGS.batchSize (10) with no batching window (a
 * window would delay every job update by its length; the poller still batches what is already
 * waiting), at most `maxConcurrency` (10) batches at once, and partial batch responses: a
 * record that fails is retried alone (up to 5 receives, then the DLQ), never its neighbours.
 */
import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { EVENTS_QUEUE_SETTINGS } from '../../functions/handlers.ts';
import type { EventsPipeline } from './events-pipeline.ts';
import type { Network } from './network.ts';
import type { PresenceCache } from './presence-cache.ts';
import { RealtimeFunction, type ObservabilityProps } from './realtime-function.ts';
import type { RealtimeTable } from './realtime-table.ts';
import type { WebSocketApi } from './websocket-api.ts';

export interface FanoutProps {
  readonly table: RealtimeTable;
  readonly events: EventsPipeline;
  readonly webSocket: WebSocketApi;
  readonly network: Network;
  readonly presence: PresenceCache;
  readonly observability?: ObservabilityProps;
  /** Extra environment (FANOUT_CONCURRENCY, FANOUT_PAGE_SIZE, ...). */
  readonly environment?: Record<string, string>;
  readonly namePrefix?: string;
}

export class Fanout extends Construct {
  readonly fn: RealtimeFunction;
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: FanoutProps) {
    super(scope, id);
    this.fn = new RealtimeFunction(this, 'Fanout', {
      handler: 'fanout',
      observability: props.observability ?? {},
      namePrefix: props.namePrefix ?? '',
      vpc: props.network.bind(),
      environment: {
        ...props.table.bind(),
        ...props.events.bind(),
        ...props.presence.bind(),
        WS_MANAGEMENT_ENDPOINT: props.webSocket.managementEndpoint,
        ...props.environment,
      },
    });
    props.webSocket.grantManageConnections(this.fn.function);
    props.table.grantReadWrite(this.fn.function);
    props.events.grantFanoutSends(this.fn.function);
    this.eventSource = new SqsEventSource(props.events.queue, {
      batchSize: EVENTS_QUEUE_SETTINGS.batchSize,
      maxBatchingWindow: Duration.seconds(EVENTS_QUEUE_SETTINGS.maxBatchingWindowSeconds),
      maxConcurrency: EVENTS_QUEUE_SETTINGS.maxConcurrency,
      reportBatchItemFailures: true,
    });
    this.fn.function.addEventSource(this.eventSource);
  }
}
