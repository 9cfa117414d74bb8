/**
 * The SSE fallback: a Lambda function URL with invoke mode RESPONSE_STREAM.
 * `GET ?channels=jobs.J1,user.alice` with `Authorization: Bearer <jwt>` (or `?token=`); see
 * docs/protocol.md, "SSE".
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { handleSseRequest } from './adapters/function-url-sse.ts';
import { instrumented } from './adapters/powertools.ts';
import { sseEndpoint } from './wiring/sse.ts';

export const handler = awslambda.streamifyResponse<LambdaFunctionURLEvent>((event, responseStream, context) =>
  instrumented({ function: 'sse', requestId: event.requestContext.requestId }, () =>
    handleSseRequest(event, responseStream, context, sseEndpoint()),
  ),
);
