/** Wiring of ws-message. */
import { log, metricsPort } from '../adapters/powertools.ts';
import { ChannelAuthorizer } from '../domain/authorization.ts';
import { MessageRouter } from '../domain/router.ts';
import { config, once } from './common.ts';
import { gateway } from './gateway.ts';
import { channels, clock, subscriptions } from './stores.ts';

export const messageRouter = (endpoint?: string): MessageRouter =>
  once(`router:${config().managementEndpoint ?? endpoint ?? ''}`, () => {
    const channelStore = channels();
    return new MessageRouter({
      subscriptions: subscriptions(),
      channels: channelStore,
      gateway: gateway(endpoint),
      authorizer: new ChannelAuthorizer({ channels: channelStore }),
      clock,
      log,
      metrics: metricsPort,
    });
  });
