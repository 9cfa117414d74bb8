/** The channel list of an SSE request: `?channels=jobs.J1,user.alice`. */
import { parseChannel, type Channel } from './channels.ts';
import { ErrorCode, RealtimeError, invalidMessage } from './errors.ts';
import { LIMITS } from './messages.ts';

/** Channels one stream may follow: each costs a key in every poll's BatchGetItem. */
export const SSE_MAX_CHANNELS = 20;

/**
 * Parses and de-duplicates the list, keeping the request's order. Throws INVALID_MESSAGE for
 * a missing or empty list, an empty entry or more than SSE_MAX_CHANNELS channels, and
 * CHANNEL_NOT_FOUND for a name that is not a channel served over SSE (presence needs a
 * WebSocket).
 */
export function parseChannelList(raw: string | undefined): Channel[] {
  if (raw === undefined || raw === '') throw invalidMessage('channels is required: ?channels=jobs.J1,user.alice');
  const names = raw.split(',');
  if (names.length > SSE_MAX_CHANNELS) throw invalidMessage(`A stream may follow at most ${SSE_MAX_CHANNELS} channels`);
  const channels = new Map<string, Channel>();
  for (const name of names) {
    if (name === '') throw invalidMessage('channels has an empty entry');
    const channel = parseChannel(name);
    if (!channel) {
      throw new RealtimeError(ErrorCode.CHANNEL_NOT_FOUND, 'Unknown channel name', { channel: name.slice(0, LIMITS.maxChannelLength) });
    }
    if (channel.kind === 'presence') {
      throw new RealtimeError(ErrorCode.CHANNEL_NOT_FOUND, 'Presence channels are served over WebSocket only', { channel: name });
    }
    channels.set(channel.name, channel);
  }
  return [...channels.values()];
}
