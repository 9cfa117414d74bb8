/**
 * Builds the clients, adapters and domain services of a Lambda from its configuration, once
 * per cold start. Entry files call `dependencies()` on their first invocation (not at import),
 * so the local runtime can set the environment before anything is built.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayConnectionGateway } from './adapters/apigw-gateway.ts';
import { DynamoChannelStore } from './adapters/dynamodb/channel-store.ts';
import { DynamoConnectionStore } from './adapters/dynamodb/connection-store.ts';
import { DynamoEventLedger } from './adapters/dynamodb/event-ledger.ts';
import { DynamoHistoryStore } from './adapters/dynamodb/history-store.ts';
import { DynamoSubscriptionStore } from './adapters/dynamodb/subscription-store.ts';
import { createJwtVerifier } from './adapters/jwt-verifier.ts';
import { log, metricsPort } from './adapters/powertools.ts';
import { SqsDeadLetterSink, SqsTaskQueue } from './adapters/sqs-queues.ts';
import { loadConfig, type Config } from './config.ts';
import { ChannelAuthorizer } from './domain/authorization.ts';
import { ConnectionService } from './domain/connections.ts';
import { Delivery } from './domain/delivery.ts';
import { Fanout } from './domain/fanout.ts';
import { systemClock, type ConnectionGateway, type TokenVerifier } from './domain/ports.ts';
import { MessageRouter } from './domain/router.ts';

export interface Dependencies {
  config: Config;
  connections: DynamoConnectionStore;
  subscriptions: DynamoSubscriptionStore;
  channels: DynamoChannelStore;
  history: DynamoHistoryStore;
  ledger: DynamoEventLedger;
  connectionService: ConnectionService;
  /** The management API for an endpoint (`https://{domain}/{stage}`); one client per endpoint. */
  gateway(endpoint?: string): ConnectionGateway;
  router(endpoint?: string): MessageRouter;
  fanout(): Fanout;
  verifier(): TokenVerifier;
}

let cached: Dependencies | undefined;

export function dependencies(): Dependencies {
  cached ??= build(loadConfig());
  return cached;
}

/** Keep-alive sockets: a fan-out posts many times to the same host. */
function requestHandler(maxSockets: number): NodeHttpHandler {
  return new NodeHttpHandler({
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    connectionTimeout: 3000,
    requestTimeout: 10_000,
  });
}

function build(config: Config): Dependencies {
  const clock = systemClock;
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      ...(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}),
      requestHandler: requestHandler(64),
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const table = { client: dynamo, tableName: config.tableName, clock };
  const connections = new DynamoConnectionStore(table);
  const subscriptions = new DynamoSubscriptionStore(table);
  const channels = new DynamoChannelStore(table);
  const history = new DynamoHistoryStore(table);
  const ledger = new DynamoEventLedger(table);
  const authorizer = new ChannelAuthorizer({ channels });

  const gateways = new Map<string, ConnectionGateway>();
  const gateway = (endpoint?: string): ConnectionGateway => {
    const url = config.managementEndpoint ?? endpoint;
    if (!url) throw new Error('WS_MANAGEMENT_ENDPOINT is not set and the request has no domain');
    let found = gateways.get(url);
    if (!found) {
      // Retries are the domain's (Delivery): it backs off with jitter and counts them.
      const client = new ApiGatewayManagementApiClient({
        endpoint: url,
        maxAttempts: 1,
        requestHandler: requestHandler(Math.max(64, config.fanout.concurrency)),
      });
      found = new ApiGatewayConnectionGateway(client);
      gateways.set(url, found);
    }
    return found;
  };

  let sqs: SQSClient | undefined;
  const sqsClient = (): SQSClient => (sqs ??= new SQSClient(config.sqsEndpoint ? { endpoint: config.sqsEndpoint } : {}));

  let verifier: TokenVerifier | undefined;
  let fanout: Fanout | undefined;
  const routers = new Map<string, MessageRouter>();

  return {
    config,
    connections,
    subscriptions,
    channels,
    history,
    ledger,
    connectionService: new ConnectionService({ connections, subscriptions, log, metrics: metricsPort }),
    gateway,
    router(endpoint?: string) {
      const key = config.managementEndpoint ?? endpoint ?? '';
      let router = routers.get(key);
      if (!router) {
        router = new MessageRouter({ subscriptions, channels, gateway: gateway(endpoint), authorizer, clock, log, metrics: metricsPort });
        routers.set(key, router);
      }
      return router;
    },
    fanout() {
      if (!fanout) {
        if (!config.eventsQueueUrl) throw new Error('EVENTS_QUEUE_URL is not set');
        if (!config.deadLetterQueueUrl) throw new Error('EVENTS_DLQ_URL is not set');
        const delivery = new Delivery(
          { gateway: gateway(), subscriptions, connections, clock, log, metrics: metricsPort },
          { concurrency: config.fanout.concurrency, maxAttempts: config.fanout.maxAttempts },
        );
        fanout = new Fanout(
          {
            channels,
            history,
            ledger,
            subscriptions,
            delivery,
            tasks: new SqsTaskQueue(sqsClient(), config.eventsQueueUrl),
            deadLetters: new SqsDeadLetterSink(sqsClient(), config.deadLetterQueueUrl),
            clock,
            log,
            metrics: metricsPort,
          },
          { pageSize: config.fanout.pageSize },
        );
      }
      return fanout;
    },
    verifier() {
      verifier ??= createJwtVerifier(config.jwt);
      return verifier;
    },
  };
}

/** For tests that run several configurations in one process. */
export function resetDependencies(): void {
  cached = undefined;
}
