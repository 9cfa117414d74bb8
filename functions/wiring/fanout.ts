/** Wiring of the fan-out. */
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoEventLedger } from '../adapters/dynamodb/event-ledger.ts';
import { DynamoHistoryStore } from '../adapters/dynamodb/history-store.ts';
import { log, metricsPort } from '../adapters/powertools.ts';
import { SqsDeadLetterSink, SqsTaskQueue } from '../adapters/sqs-queues.ts';
import { Delivery } from '../domain/delivery.ts';
import { Fanout } from '../domain/fanout.ts';
import { config, once } from './common.ts';
import { gateway } from './gateway.ts';
import { abuseLimits, documentRoles, presenceService } from './presence.ts';
import { channels, clock, connections, subscriptions, table } from './stores.ts';

export const fanout = (): Fanout =>
  once('fanout', () => {
    const { eventsQueueUrl, deadLetterQueueUrl, sqsEndpoint, fanout: options } = config();
    if (!eventsQueueUrl) throw new Error('EVENTS_QUEUE_URL is not set');
    if (!deadLetterQueueUrl) throw new Error('EVENTS_DLQ_URL is not set');
    const sqs = new SQSClient(sqsEndpoint ? { endpoint: sqsEndpoint } : {});
    const delivery = new Delivery(
      {
        gateway: gateway(),
        subscriptions: subscriptions(),
        connections: connections(),
        clock,
        log,
        metrics: metricsPort,
        afterPrune: (connectionId) => presenceService().leaveAll(connectionId),
      },
      { concurrency: options.concurrency, maxAttempts: options.maxAttempts },
    );
    return new Fanout(
      {
        channels: channels(),
        history: new DynamoHistoryStore(table()),
        ledger: new DynamoEventLedger(table()),
        subscriptions: subscriptions(),
        delivery,
        tasks: new SqsTaskQueue(sqs, eventsQueueUrl),
        deadLetters: new SqsDeadLetterSink(sqs, deadLetterQueueUrl),
        clock,
        log,
        metrics: metricsPort,
        documentRoles: documentRoles(),
        presence: presenceService(),
        limits: abuseLimits(),
      },
      { pageSize: options.pageSize, historyTtlSec: config().history.ttlSec },
    );
  });
