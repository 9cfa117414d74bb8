/**
 * `$connect`: records the connection the authorizer let in, unless its Origin is not allowed
 * (403) or a limit refuses it (429: too many connections from the IP or for the user).
 */
import { instrumented, log, metricsPort } from './adapters/powertools.ts';
import { CorsPolicy } from './domain/cors.ts';
import { config } from './wiring/common.ts';
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
    const origin = headers['origin'];
    if (!originAllowed(origin)) {
      metricsPort.count('OriginRefused');
      log.warn('connection refused', { reason: 'origin not allowed', origin, sourceIp: event.requestContext.identity?.sourceIp });
      return { statusCode: 403 };
    }
    const verdict = await connectionService().connect({
      connectionId,
      identity,
      connectedAt: event.requestContext.connectedAt,
      ...optional('sourceIp', event.requestContext.identity?.sourceIp),
      ...optional('userAgent', event.requestContext.identity?.userAgent ?? headers['user-agent']),
    });
    return { statusCode: verdict.allowed ? 200 : 429 };
  });
}

/**
 * With CORS_ORIGINS set, a browser page from another origin may not open a socket (browsers
 * always send Origin on a WebSocket handshake). Without an Origin header the caller is not a
 * browser, and a non-browser client can send any Origin it likes: refusing it would protect
 * nothing, so it is let through (the token still decides who it is).
 */
function originAllowed(origin: string | undefined): boolean {
  const { corsOrigins } = config();
  if (corsOrigins.length === 0 || origin === undefined) return true;
  return new CorsPolicy(corsOrigins).allows(origin);
}

function lowerCaseKeys(headers: Record<string, string | undefined> | undefined): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

const optional = <K extends string>(key: K, value: string | undefined): { [P in K]?: string } =>
  (value ? { [key]: value } : {}) as { [P in K]?: string };
