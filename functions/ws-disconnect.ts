/** `$disconnect`: forgets the connection and its subscriptions (best-effort on AWS). */
import { instrumented } from './adapters/powertools.ts';
import { connectionService } from './wiring/connections.ts';
import { identityOf, type WebSocketEvent, type WebSocketResult } from './ws-event.ts';

export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  const { connectionId, disconnectStatusCode, disconnectReason } = event.requestContext;
  const userId = identityOf(event)?.userId;
  return instrumented({ route: '$disconnect', connectionId, userId }, async () => {
    await connectionService().disconnect(
      connectionId,
      {
        ...(disconnectStatusCode === undefined ? {} : { statusCode: disconnectStatusCode }),
        ...(disconnectReason ? { reason: disconnectReason } : {}),
      },
      userId,
    );
    return { statusCode: 200 };
  });
}
