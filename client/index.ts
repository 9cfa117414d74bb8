/**
 * The realtime client SDK, for browsers and Node (no Node built-ins; in Node 20 pass
 * `WebSocket` from `ws` and `EventSource` from `eventsource`). See docs/client.md.
 */
export { connect, RealtimeClient, NotConnectedError, TokenError } from './client.ts';
export type { ConnectOptions, ConnectionState, Transport, SubscribeOptions, ChannelHandler, ClientEvents } from './client.ts';
export { DocumentPresence } from './presence.ts';
export type { PresenceMember, PresenceEvents, Cursor, Selection } from './presence.ts';
export { ServerError, ConnectionClosedError } from './transport-ws.ts';
export type { WebSocketLike, WebSocketConstructor } from './transport-ws.ts';
export type { EventSourceLike, EventSourceConstructor } from './transport-sse.ts';
export { Backoff } from './backoff.ts';
export type { Timers, FrameScheduler } from './timers.ts';
export type { TokenSource } from './token.ts';
export type { ChannelMessage, JobUpdateData, ServerMessage, PresenceMemberData, JobStatus } from '../functions/domain/messages.ts';
