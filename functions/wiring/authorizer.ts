/** Wiring of ws-authorizer (and of the SSE function's token check): only the token verifier. */
import { createJwtVerifier, createSecretSourcedJwtVerifier } from '../adapters/jwt-verifier.ts';
import { secretsManagerSecret, type SecretReader } from '../adapters/secrets.ts';
import { assertUsableSecret, type Config } from '../config.ts';
import type { TokenVerifier } from '../domain/ports.ts';
import { config, once } from './common.ts';

export const tokenVerifier = (): TokenVerifier => once('verifier', () => buildTokenVerifier(config().jwt));

/**
 * JWKS when `JWT_JWKS_URL` is set; else the HS256 secret from Secrets Manager when
 * `JWT_SECRET_ARN` is set (AWS: the secret never sits in the environment or the template);
 * else `JWT_SECRET` (the local runtime).
 */
export function buildTokenVerifier(jwt: Config['jwt'], read?: SecretReader, nodeEnv = process.env['NODE_ENV']): TokenVerifier {
  if (jwt.jwksUrl || !jwt.secretArn) return createJwtVerifier(jwt);
  const { secretArn, secret: _plain, jwksUrl: _jwks, ...options } = jwt;
  const source = secretsManagerSecret(secretArn, read ? { read } : {});
  return createSecretSourcedJwtVerifier(async () => {
    const secret = await source();
    assertUsableSecret(secret, nodeEnv);
    return secret;
  }, options);
}
