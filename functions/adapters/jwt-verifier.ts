import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ID_RE } from '../domain/channels.ts';
import { AuthError } from '../domain/errors.ts';
import type { Identity, TokenVerifier } from '../domain/ports.ts';

export interface JwtVerifierOptions {
  /** HS256 shared secret. Exactly one of `secret` and `jwksUrl` is used; `jwksUrl` wins. */
  secret?: string;
  /** An identity provider's JWKS (RS256/ES256); keys are fetched once and cached. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** @default 5 */
  clockToleranceSec?: number;
  /** For tests: the current time. */
  currentDate?: () => Date;
}

const HMAC_ALGORITHMS = ['HS256'];
const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'];

/**
 * Verifies JWTs with jose. Algorithms are pinned per key type, so `alg: none` and HS/RS
 * confusion (an HS256 token "signed" with the public key) are refused; `exp` is required.
 * The user id is `sub`, or the older `userId` claim.
 */
export function createJwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (options.jwksUrl) {
    key = createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000 });
    algorithms = ASYMMETRIC_ALGORITHMS;
  } else if (options.secret) {
    key = new TextEncoder().encode(options.secret);
    algorithms = HMAC_ALGORITHMS;
  } else {
    throw new Error('JWT_SECRET or JWT_JWKS_URL must be set');
  }

  return {
    async verify(token: string): Promise<Identity> {
      let payload: JWTPayload;
      try {
        const verifyOptions = {
          algorithms,
          requiredClaims: ['exp'],
          clockTolerance: options.clockToleranceSec ?? 5,
          ...(options.issuer ? { issuer: options.issuer } : {}),
          ...(options.audience ? { audience: options.audience } : {}),
          ...(options.currentDate ? { currentDate: options.currentDate() } : {}),
        };
        // jose's overloads differ for a key and a key-resolver function.
        ({ payload } =
          key instanceof Uint8Array ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions));
      } catch (error) {
        throw new AuthError('unauthorized', reasonOf(error), { cause: error });
      }
      const userId = typeof payload.sub === 'string' && payload.sub ? payload.sub : payload['userId'];
      if (typeof userId !== 'string' || !userId) throw new AuthError('unauthorized', 'token has no subject');
      if (!ID_RE.test(userId)) throw new AuthError('forbidden', 'subject is not a valid user id');
      const identity: Identity = { userId };
      const name = payload['name'];
      const picture = payload['picture'];
      if (typeof name === 'string' && name.length <= 200) identity.name = name;
      if (typeof picture === 'string' && picture.length <= 2048) identity.picture = picture;
      return identity;
    },
  };
}

/** Where the HS256 secret comes from when it is not in the environment (Secrets Manager on AWS).
 * Called on every verification: the source caches (see adapters/secrets.ts). */
export type SecretSource = () => Promise<string>;

/**
 * An HS256 verifier whose secret is read from `source`: the key is rebuilt only when the value
 * changes, so a rotated secret is picked up once the source's cache expires. A source failure
 * is not an AuthError: the caller answers it as an outage, not as a bad token.
 */
export function createSecretSourcedJwtVerifier(
  source: SecretSource,
  options: Omit<JwtVerifierOptions, 'secret' | 'jwksUrl'>,
): TokenVerifier {
  let current: { secret: string; verifier: TokenVerifier } | undefined;
  return {
    async verify(token: string): Promise<Identity> {
      const secret = await source();
      if (current?.secret !== secret) current = { secret, verifier: createJwtVerifier({ ...options, secret }) };
      return current.verifier.verify(token);
    },
  };
}

/** A short reason for logs; never includes the token. */
function reasonOf(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim ${error.claim} invalid (${error.reason})`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'malformed token';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no matching key';
  if (error instanceof joseErrors.JOSEError) return error.code;
  return 'verification failed';
}
