/**
 * The SSE fallback: the `sse` function behind a function URL with invoke mode
 * RESPONSE_STREAM, outside the VPC (Lambda response streaming is not supported in one). Its
 * timeout is HANDLERS.sse.timeoutSeconds (15 min, Lambda's maximum) and each stream ends
 * cleanly a minute before it (SSE_MAX_DURATION_MS, SSE_DEFAULT_MAX_DURATION_MS).
 *
 * The URL is public (auth type NONE): the function verifies the JWT itself (Authorization
 * header or `?token=`), as the WebSocket authorizer does. CORS is answered by the function
 * URL for the configured origins, the same list the function enforces (CORS_ORIGINS).
 */
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { HANDLERS, SSE_DEFAULT_MAX_DURATION_MS } from '../../functions/handlers.ts';
import { RealtimeFunction, type ObservabilityProps } from './realtime-function.ts';
import type { RealtimeTable } from './realtime-table.ts';
import type { TokenSettings } from './token-settings.ts';

export interface SseEndpointProps {
  readonly table: RealtimeTable;
  readonly tokens: TokenSettings;
  /** Browser origins allowed to open a stream; `['*']` for any (no credentials either way). */
  readonly corsOrigins: string[];
  /** The longest stream; must end before the function's timeout. @default SSE_DEFAULT_MAX_DURATION_MS (14 min) */
  readonly maxStreamDuration?: Duration;
  readonly observability?: ObservabilityProps;
  readonly environment?: Record<string, string>;
  readonly namePrefix?: string;
}

export class SseEndpoint extends Construct {
  readonly fn: RealtimeFunction;
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: SseEndpointProps) {
    super(scope, id);
    const maxDurationMs = props.maxStreamDuration?.toMilliseconds() ?? SSE_DEFAULT_MAX_DURATION_MS;
    this.fn = new RealtimeFunction(this, 'Sse', {
      handler: 'sse',
      observability: props.observability ?? {},
      namePrefix: props.namePrefix ?? '',
      environment: {
        ...props.table.bind(),
        ...props.tokens.bind(),
        CORS_ORIGINS: props.corsOrigins.join(','),
        SSE_MAX_DURATION_MS: String(maxDurationMs),
        ...props.environment,
      },
    });
    if (maxDurationMs >= HANDLERS.sse.timeoutSeconds * 1000) {
      throw new Error('The SSE stream must end before the function times out');
    }
    props.table.grantRead(this.fn.function);
    props.tokens.grantRead(this.fn.function);
    this.url = this.fn.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
      cors: {
        allowedOrigins: props.corsOrigins,
        allowedMethods: [lambda.HttpMethod.GET],
        allowedHeaders: ['authorization', 'last-event-id', 'cache-control'],
        maxAge: Duration.hours(1),
      },
    });
  }
}
