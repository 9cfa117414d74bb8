import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwtVerifier } from '../../functions/adapters/jwt-verifier.ts';
import { AuthError } from '../../functions/domain/errors.ts';

const SECRET = 'unit-test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);
const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSec = (): number => Math.floor(Date.now() / 1000);

function hs256(claims: Record<string, unknown>, secret: Uint8Array = key): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(secret);
}

async function refusal(promise: Promise<unknown>): Promise<AuthError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  return error as AuthError;
}

describe('createJwtVerifier', () => {
  describe('with JWT_SECRET (HS256)', () => {
    const verifier = createJwtVerifier({ secret: SECRET });

    it('accepts a valid token and reads sub, name and picture', async () => {
      const token = await hs256({ sub: 'alice', name: 'Alice', picture: 'https://x/a.png', exp: nowSec() + 60 });
      await expect(verifier.verify(token)).resolves.toEqual({ userId: 'alice', name: 'Alice', picture: 'https://x/a.png' });
    });

    it('accepts the older userId claim when sub is absent', async () => {
      const token = await hs256({ userId: 'bob', exp: nowSec() + 60 });
      await expect(verifier.verify(token)).resolves.toEqual({ userId: 'bob' });
    });

    it('refuses an expired token as unauthorized, and says why without the token', async () => {
      const token = await hs256({ sub: 'alice', exp: nowSec() - 60 });
      const error = await refusal(verifier.verify(token));
      expect(error.kind).toBe('unauthorized');
      expect(error.reason).toBe('token expired');
      expect(error.message).not.toContain(token);
    });

    it('tolerates a few seconds of clock skew', async () => {
      const token = await hs256({ sub: 'alice', exp: nowSec() - 2 });
      await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('requires exp', async () => {
      const token = await hs256({ sub: 'alice' });
      expect((await refusal(verifier.verify(token))).kind).toBe('unauthorized');
    });

    it('refuses a token signed with another secret', async () => {
      const token = await hs256({ sub: 'alice', exp: nowSec() + 60 }, new TextEncoder().encode('another-secret-another-secret-xx'));
      expect((await refusal(verifier.verify(token))).reason).toBe('bad signature');
    });

    it('refuses alg none', async () => {
      const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', exp: nowSec() + 60 })}.`;
      expect((await refusal(verifier.verify(token))).kind).toBe('unauthorized');
    });

    it('refuses a token that is not yet valid (nbf in the future)', async () => {
      const token = await hs256({ sub: 'alice', exp: nowSec() + 600, nbf: nowSec() + 300 });
      expect((await refusal(verifier.verify(token))).kind).toBe('unauthorized');
    });

    it('refuses garbage', async () => {
      expect((await refusal(verifier.verify('not.a.jwt'))).kind).toBe('unauthorized');
    });

    it('refuses a token without a subject', async () => {
      const token = await hs256({ exp: nowSec() + 60 });
      expect((await refusal(verifier.verify(token))).reason).toBe('token has no subject');
    });

    it('forbids a subject that cannot name a user channel', async () => {
      const token = await hs256({ sub: 'auth0|alice', exp: nowSec() + 60 });
      expect((await refusal(verifier.verify(token))).kind).toBe('forbidden');
    });
  });

  describe('with JWT_ISSUER and JWT_AUDIENCE', () => {
    const verifier = createJwtVerifier({ secret: SECRET, issuer: 'https://id.example', audience: 'realtime' });

    it('accepts the right issuer and audience', async () => {
      const token = await hs256({ sub: 'alice', iss: 'https://id.example', aud: 'realtime', exp: nowSec() + 60 });
      await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('refuses a wrong audience', async () => {
      const token = await hs256({ sub: 'alice', iss: 'https://id.example', aud: 'other', exp: nowSec() + 60 });
      expect((await refusal(verifier.verify(token))).reason).toMatch(/aud/);
    });

    it('refuses a wrong issuer', async () => {
      const token = await hs256({ sub: 'alice', iss: 'https://evil.example', aud: 'realtime', exp: nowSec() + 60 });
      expect((await refusal(verifier.verify(token))).reason).toMatch(/iss/);
    });
  });

  describe('with JWT_JWKS_URL (RS256/ES256)', () => {
    let server: Server;
    let jwksUrl: string;
    let fetches = 0;
    let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
    let ec: { privateKey: CryptoKey; publicKey: CryptoKey };

    beforeAll(async () => {
      rsa = await generateKeyPair('RS256', { extractable: true });
      ec = await generateKeyPair('ES256', { extractable: true });
      const keys: JWK[] = [
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ];
      server = createServer((_req, res) => {
        fetches++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('accepts RS256 and ES256 tokens from the provider and fetches the keys once', async () => {
      const verifier = createJwtVerifier({ jwksUrl });
      const before = fetches;
      const rs = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setExpirationTime('1m').sign(rsa.privateKey);
      const es = await new SignJWT({ sub: 'bob' }).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).setExpirationTime('1m').sign(ec.privateKey);
      await expect(verifier.verify(rs)).resolves.toEqual({ userId: 'alice' });
      await expect(verifier.verify(es)).resolves.toEqual({ userId: 'bob' });
      await expect(verifier.verify(rs)).resolves.toEqual({ userId: 'alice' });
      expect(fetches - before).toBe(1);
    });

    it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
      const verifier = createJwtVerifier({ jwksUrl });
      const pem = await exportSPKI(rsa.publicKey);
      const forged = await new SignJWT({ sub: 'mallory' })
        .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(pem));
      expect((await refusal(verifier.verify(forged))).kind).toBe('unauthorized');
    });

    it('refuses a token signed by a key the provider does not publish', async () => {
      const verifier = createJwtVerifier({ jwksUrl });
      const other = await generateKeyPair('RS256');
      const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setExpirationTime('1m').sign(other.privateKey);
      expect((await refusal(verifier.verify(token))).kind).toBe('unauthorized');
    });

    it('refuses an HS256 token even when a secret is also configured (JWKS wins)', async () => {
      const verifier = createJwtVerifier({ jwksUrl, secret: SECRET });
      const token = await hs256({ sub: 'alice', exp: nowSec() + 60 });
      expect((await refusal(verifier.verify(token))).reason).toBe('algorithm not allowed');
    });
  });

  it('refuses to start without a secret or a JWKS URL', () => {
    expect(() => createJwtVerifier({})).toThrow(/JWT_SECRET or JWT_JWKS_URL/);
  });
});
