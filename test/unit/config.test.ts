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
