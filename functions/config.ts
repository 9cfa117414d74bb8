/**
 * Configuration from the environment, read once per cold start. Everything here is plain
 * data; functions/wiring/ turns it into clients and services.
 */
import { DEFAULT_LIMITS, type LimitsConfig } from './domain/limits.ts';

import { SSE_DEFAULT_MAX_DURATION_MS } from './handlers.ts';

/** The environment variable of each abuse limit (the CDK stack sets them from its `limits` prop). */
export const LIMIT_ENV: Readonly<Record<keyof LimitsConfig, string>> = {
  messagesPerSecond: 'RATE_LIMIT_MESSAGES_PER_SECOND',
  messageBurst: 'RATE_LIMIT_MESSAGE_BURST',
  warningsBeforeClose: 'RATE_LIMIT_WARNINGS_BEFORE_CLOSE',
  connectionsPerIpPerMinute: 'RATE_LIMIT_CONNECTIONS_PER_IP',
  maxConnectionsPerUser: 'MAX_CONNECTIONS_PER_USER',
  maxSubscriptionsPerUser: 'MAX_SUBSCRIPTIONS_PER_USER',
};

/** The environment that sets the given limits (unset ones keep their defaults). */
export function limitsEnvironment(limits: Partial<LimitsConfig>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(limits) as [keyof LimitsConfig, number | undefined][]) {
    if (value !== undefined) env[LIMIT_ENV[key]] = String(value);
  }
  return env;
}

/** The local runtime's development secret. Refused whenever NODE_ENV is `production`. */
export const DEVELOPMENT_JWT_SECRET = 'realtime-local-development-secret-never-use-in-production';

export interface Config {
  tableName: string;
  dynamodbEndpoint?: string;
  /** `http(s)://host/stage` of the @connections API; on AWS derived from the request when unset. */
  managementEndpoint?: string;
  eventsQueueUrl?: string;
  deadLetterQueueUrl?: string;
  sqsEndpoint?: string;
  /** `secretArn` (JWT_SECRET_ARN): the HS256 secret in Secrets Manager, read by the wiring on AWS;
   * `secret` (JWT_SECRET) is for the local runtime. `jwksUrl` wins over both. */
  jwt: { secret?: string; secretArn?: string; jwksUrl?: string; issuer?: string; audience?: string; clockToleranceSec: number };
  fanout: { concurrency: number; pageSize: number; maxAttempts: number };
  /** Presence engine: Redis when `redisUrl` is set, else memory (one process: the local runtime). */
  redisUrl?: string;
  presence: { timeoutMs: number; updatesPerSecond: number };
  /** Channel history for recovery: the last `maxMessages` of a channel, at most `ttlSec` old. */
  history: { ttlSec: number; maxMessages: number };
  /** The SSE function (a response-streaming function URL). */
  sse: SseConfig;
  /** Origins allowed to call the SSE function from a browser (`CORS_ORIGINS`, comma list; `*` for any, without credentials). */
  corsOrigins: string[];
  /** Abuse limits (see functions/domain/limits.ts and docs/security.md). */
  limits: LimitsConfig;
}

export interface SseConfig {
  /** A comment when nothing else was written for this long (`SSE_HEARTBEAT_MS`, 15 s). */
  heartbeatMs: number;
  /** The longest stream (`SSE_MAX_DURATION_MS`, 14 min for a 15-minute function); it also ends before the function's timeout. */
  maxDurationMs: number;
  /** Poll interval after activity (`SSE_POLL_MIN_MS`, 200 ms); doubles while idle up to `SSE_POLL_MAX_MS` (1 s). */
  pollMinMs: number;
  pollMaxMs: number;
  /** The `retry:` hint (`SSE_RETRY_MS`, 2 s). */
  retryMs: number;
  /** How long history may lag a channel's head before the stream calls the gap lost (`SSE_GAP_GRACE_MS`, 2 s). */
  gapGraceMs: number;
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const jwt: Config['jwt'] = { clockToleranceSec: intOf(env, 'JWT_CLOCK_TOLERANCE_SEC', 5) };
  setIf(jwt, 'secret', env['JWT_SECRET']);
  setIf(jwt, 'secretArn', env['JWT_SECRET_ARN']);
  setIf(jwt, 'jwksUrl', env['JWT_JWKS_URL']);
  setIf(jwt, 'issuer', env['JWT_ISSUER']);
  setIf(jwt, 'audience', env['JWT_AUDIENCE']);
  if (!jwt.jwksUrl && jwt.secret !== undefined) assertUsableSecret(jwt.secret, env['NODE_ENV']);

  const config: Config = {
    tableName: env['TABLE_NAME'] ?? 'realtime',
    jwt,
    fanout: {
      concurrency: intOf(env, 'FANOUT_CONCURRENCY', 50),
      pageSize: intOf(env, 'FANOUT_PAGE_SIZE', 1000),
      maxAttempts: intOf(env, 'FANOUT_MAX_ATTEMPTS', 5),
    },
    history: {
      ttlSec: intOf(env, 'HISTORY_TTL_SEC', 24 * 60 * 60),
      maxMessages: intOf(env, 'HISTORY_MAX_MESSAGES', 1000),
    },
    presence: {
      timeoutMs: intOf(env, 'PRESENCE_TIMEOUT_MS', 30_000),
      updatesPerSecond: intOf(env, 'PRESENCE_UPDATES_PER_SECOND', 20),
    },
    sse: {
      heartbeatMs: intOf(env, 'SSE_HEARTBEAT_MS', 15_000),
      maxDurationMs: intOf(env, 'SSE_MAX_DURATION_MS', SSE_DEFAULT_MAX_DURATION_MS),
      pollMinMs: intOf(env, 'SSE_POLL_MIN_MS', 200),
      pollMaxMs: intOf(env, 'SSE_POLL_MAX_MS', 1000),
      retryMs: intOf(env, 'SSE_RETRY_MS', 2000),
      gapGraceMs: intOf(env, 'SSE_GAP_GRACE_MS', 2000),
    },
    corsOrigins: listOf(env['CORS_ORIGINS']),
    limits: Object.fromEntries(
      (Object.keys(LIMIT_ENV) as (keyof LimitsConfig)[]).map((key) => [key, intOf(env, LIMIT_ENV[key], DEFAULT_LIMITS[key])]),
    ) as unknown as LimitsConfig,
  };
  if (config.sse.pollMaxMs < config.sse.pollMinMs) throw new Error('SSE_POLL_MAX_MS must not be below SSE_POLL_MIN_MS');
  setIf(config, 'redisUrl', env['REDIS_URL']);
  setIf(config, 'dynamodbEndpoint', env['DYNAMODB_ENDPOINT']);
  setIf(config, 'managementEndpoint', env['WS_MANAGEMENT_ENDPOINT']);
  setIf(config, 'eventsQueueUrl', env['EVENTS_QUEUE_URL']);
  setIf(config, 'deadLetterQueueUrl', env['EVENTS_DLQ_URL']);
  setIf(config, 'sqsEndpoint', env['SQS_ENDPOINT']);
  return config;
}

/** The development secret (or a short one) must never protect a production deployment. */
export function assertUsableSecret(secret: string, nodeEnv: string | undefined): void {
  if (nodeEnv !== 'production') return;
  if (secret === DEVELOPMENT_JWT_SECRET) throw new Error('The development JWT secret is refused when NODE_ENV=production');
  if (Buffer.byteLength(secret) < 32) throw new Error('JWT_SECRET must be at least 32 bytes in production');
}

function intOf(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

function listOf(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function setIf<T extends object, K extends keyof T>(target: T, key: K, value: string | undefined): void {
  if (value !== undefined && value !== '') target[key] = value as T[K];
}
