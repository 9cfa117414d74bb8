import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { GatewayThrottledError, type ConnectionGateway, type PostOutcome } from '../domain/ports.ts';

const THROTTLE_NAMES = new Set(['LimitExceededException', 'TooManyRequestsException', 'ThrottlingException']);
const encoder = new TextEncoder();

/** The `@connections` management API through the AWS SDK client it is given. */
export class ApiGatewayConnectionGateway implements ConnectionGateway {
  readonly #client: ApiGatewayManagementApiClient;

  constructor(client: ApiGatewayManagementApiClient) {
    this.#client = client;
  }

  async post(connectionId: string, payload: string): Promise<PostOutcome> {
    try {
      await this.#client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: encoder.encode(payload) }));
      return 'ok';
    } catch (error) {
      if (error instanceof GoneException || (error as { name?: string }).name === 'GoneException') return 'gone';
      if (isThrottle(error)) throw new GatewayThrottledError({ cause: error });
      throw error;
    }
  }

  async disconnect(connectionId: string): Promise<void> {
    try {
      await this.#client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (error) {
      if (error instanceof GoneException || (error as { name?: string }).name === 'GoneException') return;
      throw error;
    }
  }
}

function isThrottle(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return THROTTLE_NAMES.has(e.name ?? '') || e.$metadata?.httpStatusCode === 429;
}
