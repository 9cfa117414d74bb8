import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { secretsManagerSecret, type SecretReader } from '../../functions/adapters/secrets.ts';
import { AuthError } from '../../functions/domain/errors.ts';
import { buildTokenVerifier } from '../../functions/wiring/authorizer.ts';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:realtime-jwt-AbCdEf';
const FIRST = 'first-secret-from-secrets-manager-0123456789abcdef';
const SECOND = 'second-secret-after-rotation-0123456789abcdefghij';
const nowSec = (): number => Math.floor(Date.now() / 1000);
const sign = (secret: string, sub = 'alice'): Promise<string> =>
  new SignJWT({ sub, exp: nowSec() + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

/** A stand-in for Secrets Manager (there is no local one): records the calls, returns `value`. */
function stubReader(initial: unknown): { read: SecretReader; calls: { id: string; maxAge: number }[]; set(value: unknown): void } {
  let value = initial;
  const calls: { id: string; maxAge: number }[] = [];
  return {
    calls,
    set: (v) => (value = v),
    read: (id, options) => {
      calls.push({ id, maxAge: options.maxAge });
      return Promise.resolve(value);
    },
  };
}

describe('the token verifier on AWS (JWT_SECRET_ARN)', () => {
  it('verifies HS256 tokens with the secret read from Secrets Manager, cached with a max age', async () => {
    const stub = stubReader(FIRST);
    const verifier = buildTokenVerifier({ secretArn: ARN, clockToleranceSec: 5 }, stub.read, 'production');
    await expect(verifier.verify(await sign(FIRST))).resolves.toEqual({ userId: 'alice' });
    expect(stub.calls[0]).toEqual({ id: ARN, maxAge: 300 });
  });

  it('picks up a rotated secret when the source returns a new value', async () => {
    const stub = stubReader(FIRST);
    const verifier = buildTokenVerifier({ secretArn: ARN, clockToleranceSec: 5 }, stub.read, 'production');
    await verifier.verify(await sign(FIRST));
    stub.set(SECOND);
    await expect(verifier.verify(await sign(SECOND, 'bob'))).resolves.toEqual({ userId: 'bob' });
    await expect(verifier.verify(await sign(FIRST))).rejects.toBeInstanceOf(AuthError);
  });

  it('prefers the secret in Secrets Manager over a plain JWT_SECRET', async () => {
    const stub = stubReader(FIRST);
    const verifier = buildTokenVerifier({ secretArn: ARN, secret: SECOND, clockToleranceSec: 5 }, stub.read, 'production');
    await expect(verifier.verify(await sign(SECOND))).rejects.toBeInstanceOf(AuthError);
    await expect(verifier.verify(await sign(FIRST))).resolves.toEqual({ userId: 'alice' });
  });

  it('leaves the secret alone when a JWKS URL is configured', () => {
    const stub = stubReader(FIRST);
    buildTokenVerifier({ secretArn: ARN, jwksUrl: 'https://idp.example.com/.well-known/jwks.json', clockToleranceSec: 5 }, stub.read);
    expect(stub.calls).toEqual([]);
  });

  it('refuses a short secret in production, as an outage rather than a bad token', async () => {
    const verifier = buildTokenVerifier({ secretArn: ARN, clockToleranceSec: 5 }, stubReader('short').read, 'production');
    const error = await verifier.verify(await sign('short')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/at least 32 bytes/);
  });
});

describe('secretsManagerSecret', () => {
  it('passes the max age to the reader and returns the string', async () => {
    const stub = stubReader('value');
    await expect(secretsManagerSecret(ARN, { maxAgeSec: 60, read: stub.read })()).resolves.toBe('value');
    expect(stub.calls).toEqual([{ id: ARN, maxAge: 60 }]);
  });

  it('refuses a binary or empty secret', async () => {
    await expect(secretsManagerSecret(ARN, { read: stubReader(new Uint8Array([1])).read })()).rejects.toThrow(/no string value/);
    await expect(secretsManagerSecret(ARN, { read: stubReader('').read })()).rejects.toThrow(/no string value/);
  });
});
