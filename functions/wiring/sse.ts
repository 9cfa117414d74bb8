/**
 * Wiring of the SSE function: the JWT verifier, the channel heads and history in DynamoDB,
 * document roles, and nothing else. It runs outside the VPC (response streaming is not
 * supported in one), so it has no Redis and no management API client.
 */
import type { SseEndpointDeps } from '../adapters/function-url-sse.ts';
import { DynamoHistoryStore } from '../adapters/dynamodb/history-store.ts';
import { log, metricsPort } from '../adapters/powertools.ts';
import { ChannelAuthorizer } from '../domain/authorization.ts';
import { CorsPolicy } from '../domain/cors.ts';
import { SseService } from '../domain/sse.ts';
import { tokenVerifier } from './authorizer.ts';
import { config, once } from './common.ts';
import { channels, clock, documentRoles, table } from './stores.ts';

export const sseEndpoint = (): SseEndpointDeps =>
  once('sseEndpoint', () => {
    const { sse, corsOrigins } = config();
    const channelStore = channels();
    const service = new SseService(
      {
        channels: channelStore,
        history: new DynamoHistoryStore(table()),
        authorizer: new ChannelAuthorizer({ channels: channelStore, documentRoles: documentRoles() }),
        clock,
        log,
        metrics: metricsPort,
      },
      sse,
    );
    return {
      verifier: tokenVerifier(),
      service,
      cors: new CorsPolicy(corsOrigins),
      clock,
      log,
      metrics: metricsPort,
      maxDurationMs: sse.maxDurationMs,
      retryMs: sse.retryMs,
    };
  });
