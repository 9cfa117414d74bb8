/** Reading API Gateway WebSocket events: the parts every WebSocket entry file needs. */
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import type { Identity } from './domain/ports.ts';

/** The WebSocket event as API Gateway sends it once a REQUEST authorizer guards `$connect`. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined> | null;
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    authorizer?: Record<string, unknown> | null;
    identity?: { sourceIp?: string; userAgent?: string };
    disconnectStatusCode?: number;
    disconnectReason?: string;
  };
};

export interface WebSocketResult {
  statusCode: number;
  body?: string;
}

/** The identity the authorizer put in its context at `$connect`; undefined when absent. */
export function identityOf(event: WebSocketEvent): Identity | undefined {
  const context = event.requestContext.authorizer;
  const userId = context?.['userId'] ?? context?.['principalId'];
  if (typeof userId !== 'string' || !userId) return undefined;
  const identity: Identity = { userId };
  if (typeof context?.['name'] === 'string' && context['name']) identity.name = context['name'];
  if (typeof context?.['picture'] === 'string' && context['picture']) identity.picture = context['picture'];
  return identity;
}

/** `https://{domain}/{stage}`: where this connection's management API lives on AWS. */
export function managementEndpointOf(event: WebSocketEvent): string {
  return `https://${event.requestContext.domainName}/${event.requestContext.stage}`;
}
