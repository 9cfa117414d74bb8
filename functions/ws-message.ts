/** Every message route (`subscribe`, `unsubscribe`, `ping`, `$default`): one router. */
import { instrumented, log } from './adapters/powertools.ts';
import { messageRouter } from './wiring/message.ts';
import { identityOf, managementEndpointOf, type WebSocketEvent, type WebSocketResult } from './ws-event.ts';

export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  const { connectionId, routeKey, connectedAt } = event.requestContext;
  const identity = identityOf(event);
  return instrumented({ route: routeKey, connectionId, userId: identity?.userId }, async () => {
    if (!identity) {
      log.error('message without an authorizer identity');
      return { statusCode: 401 };
    }
    const body = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
    await messageRouter(managementEndpointOf(event)).handle({ connectionId, connectedAt, identity }, body);
    return { statusCode: 200 };
  });
}
