import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../functions/config.ts';
import { developmentSecret } from '../../local/dev-token.ts';

describe('loadConfig', () => {
  it('refuses the development secret when NODE_ENV=production', () => {
    expect(() => loadConfig({ JWT_SECRET: DEVELOPMENT_JWT_SECRET, NODE_ENV: 'production' })).toThrow(/development JWT secret/);
  });

  it('refuses a short secret in production', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short', NODE_ENV: 'production' })).toThrow(/at least 32 bytes/);
  });

  it('accepts the development secret outside production', () => {
    expect(loadConfig({ JWT_SECRET: DEVELOPMENT_JWT_SECRET }).jwt.secret).toBe(DEVELOPMENT_JWT_SECRET);
  });

  it('reads the fan-out settings and refuses nonsense', () => {
    expect(loadConfig({ FANOUT_CONCURRENCY: '8' }).fanout.concurrency).toBe(8);
    expect(() => loadConfig({ FANOUT_CONCURRENCY: '-1' })).toThrow(/positive integer/);
  });
});

describe('developmentSecret', () => {
  it('is refused by the local runtime when NODE_ENV=production', () => {
    expect(() => developmentSecret({ NODE_ENV: 'production' })).toThrow(/NODE_ENV=production/);
    expect(developmentSecret({})).toBe(DEVELOPMENT_JWT_SECRET);
  });
});

describe('loadConfig: SSE', () => {
  it('has the defaults of a 15-minute streaming function', () => {
    expect(loadConfig({}).sse).toEqual({ heartbeatMs: 15_000, maxDurationMs: 14 * 60_000, pollMinMs: 200, pollMaxMs: 1000, retryMs: 2000, gapGraceMs: 2000 });
    expect(loadConfig({}).corsOrigins).toEqual([]);
  });

  it('reads the CORS allow-list and the SSE settings', () => {
    const config = loadConfig({ CORS_ORIGINS: ' https://a.example , https://b.example,', SSE_HEARTBEAT_MS: '300', SSE_MAX_DURATION_MS: '600' });
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.sse).toMatchObject({ heartbeatMs: 300, maxDurationMs: 600 });
  });

  it('refuses a maximum poll interval below the minimum', () => {
    expect(() => loadConfig({ SSE_POLL_MIN_MS: '500', SSE_POLL_MAX_MS: '100' })).toThrow(/SSE_POLL_MAX_MS/);
  });
});

describe('loadConfig: abuse limits', () => {
  it('defaults to the seed: 100-message bursts refilled at 10 a second, 100 connections per IP a minute, 20 per user', () => {
    expect(loadConfig({}).limits).toStrictEqual({
      messageBurst: 100,
      messagesPerSecond: 10,
      warningsBeforeClose: 10,
      connectionsPerIpPerMinute: 100,
      maxConnectionsPerUser: 20,
      maxSubscriptionsPerUser: 500,
    });
  });

  it('reads every limit from its variable and refuses nonsense', () => {
    const env = {
      RATE_LIMIT_MESSAGES_PER_SECOND: '5',
      RATE_LIMIT_MESSAGE_BURST: '50',
      RATE_LIMIT_WARNINGS_BEFORE_CLOSE: '3',
      RATE_LIMIT_CONNECTIONS_PER_IP: '30',
      MAX_CONNECTIONS_PER_USER: '4',
      MAX_SUBSCRIPTIONS_PER_USER: '40',
    };
    expect(loadConfig(env).limits).toStrictEqual({
      messageBurst: 50,
      messagesPerSecond: 5,
      warningsBeforeClose: 3,
      connectionsPerIpPerMinute: 30,
      maxConnectionsPerUser: 4,
      maxSubscriptionsPerUser: 40,
    });
    expect(() => loadConfig({ RATE_LIMIT_MESSAGES_PER_SECOND: '0' })).toThrow(/RATE_LIMIT_MESSAGES_PER_SECOND/);
    expect(() => loadConfig({ MAX_CONNECTIONS_PER_USER: 'many' })).toThrow(/MAX_CONNECTIONS_PER_USER/);
  });
});
