import { describe, expect, it } from 'vitest';
import { CorsPolicy } from '../../functions/domain/cors.ts';
import { SSE_MAX_CHANNELS, parseChannelList } from '../../functions/domain/sse-channels.ts';

describe('parseChannelList', () => {
  it('parses a comma list in order, without duplicates', () => {
    expect(parseChannelList('jobs.J1,user.alice,jobs.J1,docs.D1').map((c) => c.name)).toEqual(['jobs.J1', 'user.alice', 'docs.D1']);
  });

  it.each([undefined, ''])('refuses a missing or empty list (%j) with INVALID_MESSAGE', (raw) => {
    expect(() => parseChannelList(raw)).toThrow(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
  });

  it('refuses an empty entry with INVALID_MESSAGE', () => {
    expect(() => parseChannelList('jobs.J1,')).toThrow(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
  });

  it(`refuses more than ${SSE_MAX_CHANNELS} channels with INVALID_MESSAGE`, () => {
    const list = (n: number): string => Array.from({ length: n }, (_, i) => `jobs.J${i}`).join(',');
    expect(parseChannelList(list(SSE_MAX_CHANNELS))).toHaveLength(SSE_MAX_CHANNELS);
    expect(() => parseChannelList(list(SSE_MAX_CHANNELS + 1))).toThrow(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
  });

  it.each(['jobs', 'jobs.', 'nope.J1', 'jobs.J 1', 'user.a/b'])('refuses a bad name (%j) with CHANNEL_NOT_FOUND naming it', (name) => {
    expect(() => parseChannelList(`user.alice,${name}`)).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND', channel: name }));
  });

  it('refuses presence channels, which need a WebSocket', () => {
    expect(() => parseChannelList('presence.D1')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND', message: expect.stringMatching(/WebSocket/) }));
  });
});

describe('CorsPolicy', () => {
  const policy = new CorsPolicy(['http://localhost:3001', 'https://app.example.com/']);

  it('echoes an allowed origin with credentials and Vary', () => {
    expect(policy.allows('https://app.example.com')).toBe(true);
    expect(policy.headersFor('https://APP.example.com')).toEqual({
      'access-control-allow-origin': 'https://APP.example.com',
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    });
  });

  it('gives no CORS headers to another origin or without an Origin', () => {
    expect(policy.allows('https://evil.example')).toBe(false);
    expect(policy.headersFor('https://evil.example')).toEqual({ vary: 'Origin' });
    expect(policy.headersFor(undefined)).toEqual({ vary: 'Origin' });
  });

  it('answers a preflight with the methods, headers and max age', () => {
    expect(policy.preflightHeaders('http://localhost:3001')).toMatchObject({
      'access-control-allow-origin': 'http://localhost:3001',
      'access-control-allow-methods': 'GET, OPTIONS',
      'access-control-allow-headers': 'Authorization, Last-Event-ID, Cache-Control, Content-Type',
      'access-control-max-age': '600',
    });
  });

  it('answers * without credentials when the list allows any origin', () => {
    const any = new CorsPolicy(['*']);
    expect(any.allows('https://anything.example')).toBe(true);
    expect(any.headersFor('https://anything.example')).toEqual({ 'access-control-allow-origin': '*' });
  });

  it('allows nothing cross-origin with an empty list', () => {
    expect(new CorsPolicy([]).allows('http://localhost:3001')).toBe(false);
  });
});
