/**
 * Authentication at `$connect`, through the local runtime's API Gateway emulation and the real
 * authorizer: the token comes from the `token` query parameter.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { logger, metricsPort } from '../../functions/adapters/powertools.ts';
import { startProduct, type Product } from './support.ts';

const SECRET = 'e2e-secret-e2e-secret-e2e-secret-0123';
const AUDIENCE = 'realtime-e2e';
const ISSUER = 'https://id.example.test';
const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSec = (): number => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>, secret = SECRET): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
const valid = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub: 'alice',
  iss: ISSUER,
  aud: AUDIENCE,
  exp: nowSec() + 300,
  ...extra,
});

let product: Product;
beforeAll(async () => {
  product = await startProduct({ env: { JWT_SECRET: SECRET, JWT_AUDIENCE: AUDIENCE, JWT_ISSUER: ISSUER } });
});
afterAll(() => product.close());

describe('$connect authentication', () => {
  it('opens the socket for a valid token and records the connection', async () => {
    // Act
    const client = await product.connectWithToken(await sign(valid({ name: 'Alice' })));
    // Assess: it works, and $connect stored who is behind it
    expect(await client.request({ action: 'ping' })).toMatchObject({ event: 'pong' });
    const [connectionId] = product.runtime.gateway.connectionIds();
    const record = await product.stores.connections.get(connectionId as string);
    expect(record).toMatchObject({ connectionId, userId: 'alice', name: 'Alice', sourceIp: '127.0.0.1' });
    expect(record?.userAgent).toBe('realtime-e2e');
    // TTL a little past API Gateway's 2-hour cap
    expect((record?.expiresAt ?? 0) - Math.floor((record?.connectedAt ?? 0) / 1000)).toBe(2 * 3600 + 15 * 60);
    await client.close();
  });

  it.each([
    ['missing', async () => ''],
    ['empty', async () => '?token='],
    ['expired', async () => `?token=${await sign(valid({ exp: nowSec() - 60 }))}`],
    ['signed with the wrong secret', async () => `?token=${await sign(valid(), 'wrong-secret-wrong-secret-wrong-secret')}`],
    ['alg none', async () => `?token=${b64({ alg: 'none', typ: 'JWT' })}.${b64(valid())}.`],
    ['for another audience', async () => `?token=${await sign(valid({ aud: 'someone-else' }))}`],
    ['from another issuer', async () => `?token=${await sign(valid({ iss: 'https://evil.example' }))}`],
    ['without exp', async () => `?token=${await sign({ sub: 'alice', iss: ISSUER, aud: AUDIENCE })}`],
    ['not yet valid', async () => `?token=${await sign(valid({ nbf: nowSec() + 600 }))}`],
    ['garbage', async () => '?token=not-a-jwt'],
  ])('refuses a %s token with 401', async (_name, query) => {
    expect(await product.upgradeStatus(await query())).toBe(401);
  });

  it('refuses a subject that cannot be a user id with 403', async () => {
    expect(await product.upgradeStatus(`?token=${await sign(valid({ sub: 'auth0|alice' }))}`)).toBe(403);
  });

  it('logs a refusal with its reason but never the token, and counts it', async () => {
    // Prepare: watch what the handlers write and count
    const token = await sign(valid({ exp: nowSec() - 60 }));
    const written: string[] = [];
    // Powertools Logger prints JSON lines through its own Console: capture exactly those.
    const output = (logger as unknown as { console: Console }).console;
    const write = vi.spyOn(output, 'warn').mockImplementation((line: unknown) => void written.push(String(line)));
    const count = vi.spyOn(metricsPort, 'count');
    logger.setLogLevel('WARN');
    try {
      // Act
      expect(await product.upgradeStatus(`?token=${token}`)).toBe(401);
    } finally {
      logger.setLogLevel('SILENT');
      write.mockRestore();
    }
    // Assess
    const lines = written.join('\n');
    expect(written.map((line) => JSON.parse(line) as unknown)).toContainEqual(
      expect.objectContaining({ level: 'WARN', message: 'connection refused', reason: 'token expired', sourceIp: '127.0.0.1' }),
    );
    expect(lines).not.toContain(token);
    expect(lines).not.toContain(token.split('.')[2]);
    expect(count).toHaveBeenCalledWith('AuthFailures');
    count.mockRestore();
  });
});
