/**
 * `npm run listen -- --user alice --channels jobs.J1,user.alice`: connects to the local runtime
 * (or `--url`) with a development token, subscribes and prints every message it receives.
 */
import '../quiet-sdk.ts';
import WebSocket from 'ws';
import { mintDevToken } from '../dev-token.ts';
import { parseFlags } from './args.ts';

const flags = parseFlags(['user', 'channels', 'url', 'token'] as const);
if (flags.help || (!flags.user && !flags.token)) {
  console.error('usage: npm run listen -- --user <userId> [--channels jobs.J1,user.alice] [--url ws://localhost:3001] [--token <jwt>]');
  process.exit(flags.help ? 0 : 2);
}
const token = flags.token ?? (await mintDevToken({ userId: flags.user as string }));
const base = flags.url ?? `ws://localhost:${process.env['REALTIME_PORT'] ?? '3001'}`;
const channels = (flags.channels ?? (flags.user ? `user.${flags.user}` : '')).split(',').filter(Boolean);

const socket = new WebSocket(`${base}/?token=${encodeURIComponent(token)}`);
socket.on('unexpected-response', (_req, res) => {
  console.error(`connection refused: HTTP ${res.statusCode}`);
  process.exit(1);
});
socket.on('open', () => {
  console.error(`connected to ${base}; subscribing to ${channels.join(', ') || 'nothing'} (Ctrl-C to stop)`);
  channels.forEach((channel, i) => socket.send(JSON.stringify({ action: 'subscribe', channel, requestId: `s${i + 1}` })));
  // A ping every 15 s keeps presence alive (30 s timeout) and the socket under API Gateway's
  // 10-minute idle timeout.
  setInterval(() => socket.send(JSON.stringify({ action: 'ping' })), 15_000).unref();
});
socket.on('message', (data) => console.log(data.toString()));
socket.on('close', (code, reason) => {
  console.error(`closed: ${code} ${reason.toString()}`);
  process.exit(0);
});
socket.on('error', (error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
