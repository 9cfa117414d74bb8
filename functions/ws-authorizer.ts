/** `$connect` REQUEST authorizer: checks the JWT from the `token` query parameter. */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { instrumented, log, metricsPort } from './adapters/powertools.ts';
import { tokenVerifier } from './wiring/authorizer.ts';
import { AuthError } from './domain/errors.ts';
import type { Identity } from './domain/ports.ts';

export async function handler(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const sourceIp = event.requestContext?.identity?.sourceIp;
  return instrumented({ route: '$connect', requestId: event.requestContext?.requestId }, async () => {
    const token = event.queryStringParameters?.['token'];
    if (!token) {
      metricsPort.count('AuthFailures');
      log.warn('connection refused', { reason: 'no token', sourceIp });
      throw new Error('Unauthorized'); // API Gateway answers 401
    }
    let identity: Identity;
    try {
      identity = await tokenVerifier().verify(token);
    } catch (error) {
      metricsPort.count('AuthFailures');
      if (!(error instanceof AuthError)) throw error;
      // The reason comes from the verifier and never contains the token.
      log.warn('connection refused', { reason: error.reason, sourceIp });
      if (error.kind === 'unauthorized') throw new Error('Unauthorized');
      return policy('anonymous', 'Deny', event.methodArn); // API Gateway answers 403
    }
    const context: Record<string, string> = { userId: identity.userId };
    if (identity.name) context['name'] = identity.name;
    if (identity.picture) context['picture'] = identity.picture;
    return { ...policy(identity.userId, 'Allow', event.methodArn), context };
  });
}

function policy(principalId: string, effect: 'Allow' | 'Deny', resource: string): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
  };
}
