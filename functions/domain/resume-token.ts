/**
 * The SSE resume token: the `id` of every event on a stream, sent back by the browser as
 * `Last-Event-ID` when it reconnects. It covers every channel of the stream at once: for each
 * channel, the last offset the client has (`{"v":1,"o":{"jobs.J1":7,"user.alice":3}}`, JSON in
 * base64url, so it is one line of URL-safe characters).
 *
 * It is not signed: it only says where to resume. The stream authorizes every channel again
 * and never sends anything the user could not subscribe to, whatever the token says.
 */
import { parseChannel } from './channels.ts';

export const RESUME_TOKEN_VERSION = 1;
/** Longer tokens are refused unread (20 channels of 256 characters fit well below). */
export const MAX_RESUME_TOKEN_LENGTH = 16 * 1024;
const MAX_CHANNELS = 100;

/** Channel name → the last offset the client has on it. */
export type ResumePositions = ReadonlyMap<string, number>;

export type DecodedResumeToken = { ok: true; positions: ResumePositions } | { ok: false; reason: string };

export function encodeResumeToken(positions: ResumePositions): string {
  const o: Record<string, number> = {};
  for (const [channel, offset] of positions) o[channel] = offset;
  return Buffer.from(JSON.stringify({ v: RESUME_TOKEN_VERSION, o }), 'utf8').toString('base64url');
}

/** Decodes a token; a malformed one comes back with a short reason (for logs), never thrown. */
export function decodeResumeToken(token: string): DecodedResumeToken {
  if (token.length === 0) return { ok: false, reason: 'empty' };
  if (token.length > MAX_RESUME_TOKEN_LENGTH) return { ok: false, reason: 'too long' };
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'not base64url' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'not an object' };
  const { v, o } = parsed as { v?: unknown; o?: unknown };
  if (v !== RESUME_TOKEN_VERSION) return { ok: false, reason: 'unknown version' };
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, reason: 'no offsets' };
  const entries = Object.entries(o);
  if (entries.length > MAX_CHANNELS) return { ok: false, reason: 'too many channels' };
  const positions = new Map<string, number>();
  for (const [channel, offset] of entries) {
    if (!parseChannel(channel)) return { ok: false, reason: 'bad channel name' };
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return { ok: false, reason: 'bad offset' };
    positions.set(channel, offset);
  }
  return { ok: true, positions };
}
