/**
 * Secrets from AWS Secrets Manager, read with Powertools Parameters: fetched on first use and
 * cached in the Lambda instance for `maxAgeSec`, so a warm function makes one call per max age
 * and picks up a rotated value after at most that long.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretSource } from './jwt-verifier.ts';

/** How a secret is read; Powertools' `getSecret` by default (tests pass a stub: there is no local Secrets Manager). */
export type SecretReader = (secretId: string, options: { maxAge: number }) => Promise<unknown>;

export interface SecretsManagerSecretOptions {
  /** Seconds a value is served from the cache before it is read again (default 300). */
  maxAgeSec?: number;
  read?: SecretReader;
}

export const DEFAULT_SECRET_MAX_AGE_SEC = 300;

/** A secret string by name or ARN; a binary or empty secret is refused. */
export function secretsManagerSecret(secretId: string, options: SecretsManagerSecretOptions = {}): SecretSource {
  const read: SecretReader = options.read ?? ((id, o) => getSecret(id, o));
  const maxAge = options.maxAgeSec ?? DEFAULT_SECRET_MAX_AGE_SEC;
  return async () => {
    const value = await read(secretId, { maxAge });
    if (typeof value !== 'string' || value === '') throw new Error(`Secret ${secretId} has no string value`);
    return value;
  };
}
