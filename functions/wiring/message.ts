/** Wiring of ws-message. */
import { randomUUID } from 'node:crypto';
import { DynamoHistoryStore } from '../adapters/dynamodb/history-store.ts';
import { log, metricsPort } from '../adapters/powertools.ts';
import { ChannelAuthorizer } from '../domain/authorization.ts';
import { MessageRouter } from '../domain/router.ts';
import { config, once } from './common.ts';
import { gateway } from './gateway.ts';
import { documentRoles, presenceService, requestDelivery } from './presence.ts';
import { channels, clock, subscriptions, table } from './stores.ts';

export const messageRouter = (endpoint?: string): MessageRouter =>
  once(`router:${config().managementEndpoint ?? endpoint ?? ''}`, () => {
    const channelStore = channels();
    const roles = documentRoles();
    return new MessageRouter({
      subscriptions: subscriptions(),
      channels: channelStore,
      gateway: gateway(endpoint),
      authorizer: new ChannelAuthorizer({ channels: channelStore, documentRoles: roles }),
      clock,
      log,
      metrics: metricsPort,
      presence: presenceService(endpoint),
      documents: { roles, history: new DynamoHistoryStore(table()), delivery: requestDelivery(endpoint), newId: randomUUID },
    });
  });
