import { describe, expect, it } from 'vitest';
import { MAX_RESUME_TOKEN_LENGTH, decodeResumeToken, encodeResumeToken } from '../../functions/domain/resume-token.ts';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('resume token', () => {
  it('round-trips the position of every channel', () => {
    // Prepare
    const positions = new Map([
      ['jobs.J1', 7],
      ['user.alice', 3],
      ['docs.D-1_x', 0],
    ]);
    // Act
    const token = encodeResumeToken(positions);
    const decoded = decodeResumeToken(token);
    // Assess
    expect(decoded).toEqual({ ok: true, positions });
  });

  it('is base64url of {"v":1,"o":{...}}: one line, URL-safe, no padding', () => {
    const token = encodeResumeToken(new Map([['jobs.J1', 7], ['user.alice', 3]]));
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(token, 'base64url').toString())).toEqual({ v: 1, o: { 'jobs.J1': 7, 'user.alice': 3 } });
  });

  it('encodes an empty stream', () => {
    expect(decodeResumeToken(encodeResumeToken(new Map()))).toEqual({ ok: true, positions: new Map() });
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('{nope').toString('base64url')],
    ['not an object', b64([1, 2])],
    ['unknown version', b64({ v: 2, o: {} })],
    ['no offsets', b64({ v: 1 })],
    ['no offsets', b64({ v: 1, o: [1] })],
    ['bad channel name', b64({ v: 1, o: { 'nope.J1': 1 } })],
    ['bad offset', b64({ v: 1, o: { 'jobs.J1': -1 } })],
    ['bad offset', b64({ v: 1, o: { 'jobs.J1': 1.5 } })],
    ['bad offset', b64({ v: 1, o: { 'jobs.J1': '7' } })],
    ['too many channels', b64({ v: 1, o: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`jobs.J${i}`, 1])) })],
    ['too long', 'a'.repeat(MAX_RESUME_TOKEN_LENGTH + 1)],
  ])('refuses a malformed token (%s) without throwing', (reason, token) => {
    expect(decodeResumeToken(token)).toEqual({ ok: false, reason });
  });
});
