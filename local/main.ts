/**
 * `npm start`: the local runtime on REALTIME_PORT (default 3001) with the real handlers.
 * LOCAL_LOG_LEVEL=debug shows everything the emulation does.
 */
import './quiet-sdk.ts';
import { developmentSecret, mintDevToken } from './dev-token.ts';
import { startLocalRuntime } from './runtime.ts';

const usesDevSecret = !process.env['JWT_SECRET'] && !process.env['JWT_JWKS_URL'];
if (usesDevSecret) {
  try {
    developmentSecret();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}

const runtime = await startLocalRuntime();
const { url, wsUrl, managementEndpoint, sseUrl, dynamodb } = runtime;
// A ready token, when tokens can be minted here (the development secret or a JWT_SECRET).
const token = process.env['JWT_JWKS_URL'] ? undefined : await mintDevToken({ userId: 'alice', name: 'Alice', ttlSec: 12 * 3600 });

process.stderr.write(
  [
    `realtime local runtime`,
    ...(process.env['NODE_ENV'] !== 'production' && !process.env['JWT_JWKS_URL'] ? [`  Live demo        ${url}/   (open it in two browser tabs)`] : []),
    `  WebSocket        ${wsUrl}/?token=<jwt>`,
    `  SSE              ${sseUrl}?channels=jobs.J1,user.alice&token=<jwt>   (or Authorization: Bearer <jwt>)`,
    `  @connections     ${managementEndpoint}`,
    `  EventBridge/SQS  ${url}`,
    `  health           ${url}/health`,
    `  DynamoDB         ${dynamodb.endpoint}${dynamodb.embedded ? ' (dynalite, in memory)' : ''}`,
    `  presence         ${process.env['REDIS_URL'] ? `Redis at ${process.env['REDIS_URL'].replace(/\/\/[^@]*@/, '//***@')}` : 'memory (REDIS_URL=redis://... for Redis)'}`,
    `  JWT              ${usesDevSecret ? 'development secret (refused when NODE_ENV=production)' : process.env['JWT_JWKS_URL'] ? 'JWKS' : 'JWT_SECRET'}`,
    '',
    ...(token
      ? [
          `A token for user "alice", valid 12 hours (more with: npm run token -- --user bob):`,
          `  ${token}`,
          '',
          `Try it:`,
          `  npm run listen -- --user alice --channels jobs.J1,user.alice`,
          `  curl -N "${sseUrl}?channels=jobs.J1,user.alice&token=${token}"    (the same, over SSE)`,
          `  npm run publish -- --job J1 --user alice --status running --progress 40 --message "Rendering slide 4"`,
          `  npm run publish -- --notify alice --type comment.mention --title "Bob mentioned you"`,
          `  npm run publish -- --doc D1 --user alice --role owner    (then subscribe to presence.D1 / docs.D1)`,
          '',
        ]
      : []),
    `Ctrl-C to stop.`,
    '',
  ].join('\n'),
);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) process.exit(1); // a second Ctrl-C: do not wait
  stopping = true;
  process.stderr.write(`\n${signal}: closing connections...\n`);
  runtime.close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`close failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
