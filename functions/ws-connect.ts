/** `$connect`: records the connection the authorizer let in. */
import { instrumented, log } from './adapters/powertools.ts';
import { connectionService } from './wiring/connections.ts';
import { identityOf, type WebSocketEvent, type WebSocketResult } from './ws-event.ts';

export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  const { connectionId } = event.requestContext;
  const identity = identityOf(event);
  return instrumented({ route: '$connect', connectionId, userId: identity?.userId }, async () => {
    if (!identity) {
      log.error('no authorizer identity on $connect; is the authorizer attached?');
      return { statusCode: 401 };
    }
    const headers = lowerCaseKeys(event.headers);
    await connectionService().connect({
      connectionId,
      identity,
      connectedAt: event.requestContext.connectedAt,
      ...optional('sourceIp', event.requestContext.identity?.sourceIp),
      ...optional('userAgent', event.requestContext.identity?.userAgent ?? headers['user-agent']),
    });
    return { statusCode: 200 };
  });
}

function lowerCaseKeys(headers: Record<string, string | undefined> | undefined): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

const optional = <K extends string>(key: K, value: string | undefined): { [P in K]?: string } =>
  (value ? { [key]: value } : {}) as { [P in K]?: string };
