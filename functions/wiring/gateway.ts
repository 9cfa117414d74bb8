/** The `@connections` management API, one client per endpoint. */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ApiGatewayConnectionGateway } from '../adapters/apigw-gateway.ts';
import type { ConnectionGateway } from '../domain/ports.ts';
import { config, once, requestHandler } from './common.ts';

/** `endpoint` is `https://{domain}/{stage}` from the request; WS_MANAGEMENT_ENDPOINT wins. */
export function gateway(endpoint?: string): ConnectionGateway {
  const { managementEndpoint, fanout } = config();
  const url = managementEndpoint ?? endpoint;
  if (!url) throw new Error('WS_MANAGEMENT_ENDPOINT is not set and the request names no domain');
  return once(`gateway:${url}`, () => {
    // Retries are the domain's (Delivery): it backs off with jitter and counts them.
    const client = new ApiGatewayManagementApiClient({
      endpoint: url,
      maxAttempts: 1,
      requestHandler: requestHandler(Math.max(64, fanout.concurrency)),
    });
    return new ApiGatewayConnectionGateway(client);
  });
}
