/** Wiring of ws-message. */
import { randomUUID } from 'node:crypto';
import { DynamoHistoryStore } from '../adapters/dynamodb/history-store.ts';
import { log, metricsPort } from '../adapters/powertools.ts';
import { ChannelAuthorizer } from '../domain/authorization.ts';
import { MessageRouter } from '../domain/router.ts';
import { config, once } from './common.ts';
import { gateway } from './gateway.ts';
import { abuseLimits, documentRoles, presenceService, requestDelivery } from './presence.ts';
import { channels, clock, subscriptions, table } from './stores.ts';

export const messageRouter = (endpoint?: string): MessageRouter =>
  once(`router:${config().managementEndpoint ?? endpoint ?? ''}`, () => {
    const channelStore = channels();
    const roles = documentRoles();
    const history = new DynamoHistoryStore(table());
    return new MessageRouter({
      subscriptions: subscriptions(),
      channels: channelStore,
      gateway: gateway(endpoint),
      authorizer: new ChannelAuthorizer({ channels: channelStore, documentRoles: roles }),
      clock,
      log,
      metrics: metricsPort,
      presence: presenceService(endpoint),
      history,
      historyMaxMessages: config().history.maxMessages,
      historyTtlSec: config().history.ttlSec,
      documents: { roles, history, delivery: requestDelivery(endpoint), newId: randomUUID },
      limits: abuseLimits(),
    });
  });
