/**
 * The local runtime: one Node process and one HTTP port hosting the Lambda handlers that run on
 * AWS, behind emulations of API Gateway WebSocket (+ the `@connections` management API),
 * EventBridge PutEvents, SQS (queues, API and the Lambda event source mapping) and DynamoDB
 * (dynalite in-process).
 *
 *   const runtime = await startLocalRuntime({ port: 0 });
 *   new WebSocket(`${runtime.wsUrl}?token=...`);
 *   ...
 *   await runtime.close();
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { TTL_ATTRIBUTE, tableDefinition as defaultTableDefinition } from '../functions/adapters/dynamodb/table.ts';
import type { Log } from '../functions/domain/ports.ts';
import { DEVELOPMENT_JWT_SECRET } from '../functions/config.ts';
import { startLocalDynamo, type LocalDynamo } from './dynamodb.ts';
import { LocalEventBridge, eventBridgeRoute, type EventRule } from './eventbridge.ts';
import { healthRoute, runHealthChecks, type HealthCheck, type HealthReport } from './health.ts';
import { HttpRouter, sendJson } from './http-router.ts';
import { FunctionUrl } from './function-url.ts';
import { LambdaFunction, type LocalHandler } from './lambda-context.ts';
import { createLog, type LogLevel, type RuntimeLog } from './log.ts';
import { demoRoutes } from './demo/routes.ts';
import { ManagementApi } from './management-api.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, LocalQueue, SqsEventSourceMapping, sqsRoute } from './sqs.ts';
import { installAwsLambdaShim } from './streaming.ts';
import { ACCOUNT_ID, Timers, errorMessageOf } from './util.ts';
import { WebSocketGateway, type GatewayFunctions } from './websocket-gateway.ts';
import { EVENTS_QUEUE_SETTINGS, HANDLERS, type HandlerName } from '../functions/handlers.ts';
import { CLIENT_ACTIONS, DETAIL_TYPES, LIMITS } from '../functions/domain/messages.ts';

export type FunctionKey = HandlerName;

/** Module paths (relative to `rootDir`) of the handlers, each exporting `handler`. */
export const DEFAULT_HANDLER_MODULES = Object.fromEntries(
  Object.entries(HANDLERS).map(([key, h]) => [key, h.entry]),
) as Readonly<Record<FunctionKey, string>>;

export const FUNCTION_NAMES = Object.fromEntries(
  Object.entries(HANDLERS).map(([key, h]) => [key, h.functionName]),
) as Readonly<Record<FunctionKey, string>>;

/** The API's route keys besides `$default`: one per client action. */
export const DEFAULT_ROUTES = CLIENT_ACTIONS;
/** What the events rule routes to the queue: the detail-types the fan-out handles. */
export const DEFAULT_DETAIL_TYPES = Object.values(DETAIL_TYPES);
export const EVENTS_QUEUE = 'realtime-events';
export const DEAD_LETTER_QUEUE = 'realtime-events-dlq';

/** API Gateway WebSocket limits. */
export const WEBSOCKET_LIMITS = {
  maxMessageBytes: LIMITS.maxFrameBytes,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnectionMs: 2 * 60 * 60 * 1000,
} as const;

export interface LocalRuntimeOptions {
  /** Default: env REALTIME_PORT, else 3001. 0 picks a free port (see `runtime.port`). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** API Gateway stage; default `local`. */
  stage?: string;
  /** API Gateway API id (in ARNs and events); default `local-api`. */
  apiId?: string;
  /** Where handler module paths are resolved from; default the project root. */
  rootDir?: string;
  /**
   * Per function: a handler function (tests) or a module path exporting `handler`. For `sse`,
   * a handler wrapped with `awslambda.streamifyResponse` (or `streamifyResponse` from
   * local/streaming.ts) streams; any other answers like a buffered function URL.
   */
  handlers?: Partial<Record<FunctionKey, LocalHandler | string>>;
  /** Route keys of the WebSocket API besides `$default`. */
  routes?: readonly string[];
  /** WebSocket idle timeout (no data frames from the client); default 10 minutes. */
  idleTimeoutMs?: number;
  /** Hard cap of a connection's life; default 2 hours. */
  maxConnectionMs?: number;
  management?: { latencyMs?: number };
  /** Default: env EVENT_BUS_NAME, else `realtime`. */
  eventBusName?: string;
  /** EventBridge rules; default: the detail-types the fan-out handles (DETAIL_TYPES, any bus) → events queue. */
  rules?: readonly EventRule[];
  sqs?: {
    /** Events queue visibility timeout; default 6 x the fan-out timeout (360 s), as on AWS. */
    visibilityTimeoutMs?: number;
    /** Receives before a message moves to the dead-letter queue; default 5. */
    maxReceiveCount?: number;
    /** Event source mapping batch size; default 10. */
    batchSize?: number;
    /** Batching window; default 0 (deliver at once, gathering what arrived in the same tick). */
    batchWindowMs?: number;
    /** Batches in flight at once; default 10. */
    maxConcurrency?: number;
    /** FunctionResponseTypes ReportBatchItemFailures; default true. */
    reportBatchItemFailures?: boolean;
    /** Queue MaximumMessageSize; default 256 KB. */
    maxMessageBytes?: number;
  };
  dynamodb?: {
    /** Use this endpoint instead of starting dynalite (default: env DYNAMODB_ENDPOINT). */
    endpoint?: string;
    /** Default: env TABLE_NAME, else `realtime`. */
    tableName?: string;
    /** Default: the table definition of functions/adapters/dynamodb/table.ts. */
    tableDefinition?: CreateTableCommandInput;
  };
  lambda?: {
    /** Function timeouts; defaults 10 s for the WebSocket functions, 60 s for the fan-out, 15 min for SSE. */
    timeoutMs?: Partial<Record<FunctionKey, number>>;
    memoryMB?: number;
  };
  /** More checks for GET /health (presence, Redis...). */
  healthChecks?: readonly HealthCheck[];
  /** Extra environment for the handlers; these win over everything the runtime sets. */
  env?: Record<string, string>;
  /** A level for the runtime's own log on stderr (default `warn`, or env LOCAL_LOG_LEVEL), or a Log. */
  log?: LogLevel | Log;
}

export interface LocalRuntime {
  readonly host: string;
  readonly port: number;
  readonly stage: string;
  /** `http://127.0.0.1:{port}`: EventBridge, SQS, health. */
  readonly url: string;
  /** `ws://127.0.0.1:{port}`: append `?token=...`. */
  readonly wsUrl: string;
  /** `http://127.0.0.1:{port}/{stage}`: the `@connections` endpoint. */
  readonly managementEndpoint: string;
  /** `http://127.0.0.1:{port}/sse`: the SSE function URL; append `?channels=...&token=...`. */
  readonly sseUrl: string;
  /** The SSE function URL: `active` invocations (streams), `idle()`, `settled` events. */
  readonly sse: FunctionUrl;
  /** The environment the runtime set for the handlers (restored on close). */
  readonly env: Readonly<Record<string, string>>;
  readonly gateway: WebSocketGateway;
  readonly management: ManagementApi;
  readonly queues: { readonly events: LocalQueue; readonly dlq: LocalQueue };
  readonly eventSource: SqsEventSourceMapping;
  readonly eventBridge: LocalEventBridge;
  readonly dynamodb: LocalDynamo;
  readonly functions: Readonly<Record<FunctionKey, LambdaFunction>>;
  health(): Promise<HealthReport>;
  /** Closes every WebSocket (running $disconnect), stops the pollers, the server and dynalite. */
  close(): Promise<void>;
}

// The function timeouts of the CDK stack: 10 s for the WebSocket functions, 60 s for the
// fan-out, 15 minutes for SSE (a streaming function may run up to Lambda's maximum).
const DEFAULT_TIMEOUTS = Object.fromEntries(
  Object.entries(HANDLERS).map(([key, h]) => [key, h.timeoutSeconds * 1000]),
) as Record<FunctionKey, number>;

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const log = createLog(options.log);
  const timers = new Timers();
  const env = new EnvScope();
  const host = options.host ?? '127.0.0.1';
  const stage = options.stage ?? 'local';
  const apiId = options.apiId ?? 'local-api';
  const requestedPort = options.port ?? portFromEnv();

  // The server listens first (the port goes into the environment) and answers 503 until ready.
  const router = new HttpRouter(log.child('http'));
  let ready = false;
  let upgradeHandler: WebSocketGateway['handleUpgrade'] | undefined;
  const server = createServer((req, res) => {
    if (!ready) {
      req.resume();
      sendJson(res, 503, { message: 'The local runtime is not ready' });
      return;
    }
    router.handle(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    if (!upgradeHandler || !ready) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    upgradeHandler(req, socket, head);
  });
  server.on('clientError', (error, socket) => {
    log.debug('client error', { error: errorMessageOf(error) });
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  await listen(server, requestedPort, host);
  const port = (server.address() as AddressInfo).port;
  const displayHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${displayHost}:${String(port)}`;

  let dynamo: LocalDynamo | undefined;
  try {
    // Environment for the handlers, set before any handler module is imported.
    env.setDefault('AWS_REGION', 'us-east-1');
    env.setDefault('AWS_ACCESS_KEY_ID', 'local');
    env.setDefault('AWS_SECRET_ACCESS_KEY', 'local');
    if (options.dynamodb?.tableName) env.set('TABLE_NAME', options.dynamodb.tableName);
    else env.setDefault('TABLE_NAME', 'realtime');
    if (options.eventBusName) env.set('EVENT_BUS_NAME', options.eventBusName);
    else env.setDefault('EVENT_BUS_NAME', 'realtime');
    if (!process.env['JWT_SECRET'] && !process.env['JWT_JWKS_URL']) env.setDefault('JWT_SECRET', DEVELOPMENT_JWT_SECRET);
    // Browsers on the usual development origins, and on this runtime's own (its pages), may open
    // a WebSocket or an SSE stream ($connect checks Origin too).
    env.setDefault('CORS_ORIGINS', [...new Set([3001, port].flatMap((p) => [`http://localhost:${String(p)}`, `http://127.0.0.1:${String(p)}`]))].join(','));
    // Tells the handlers that the memory presence engine is shared by all of them here.
    env.set('REALTIME_LOCAL_RUNTIME', 'true');
    // These point at this runtime's own port, so they are always set (a previous runtime in the
    // same process may have left other values); `options.env` can still override them.
    env.set('WS_MANAGEMENT_ENDPOINT', `${url}/${stage}`);
    env.set('EVENTS_QUEUE_URL', `${url}/${ACCOUNT_ID}/${EVENTS_QUEUE}`);
    env.set('EVENTS_DLQ_URL', `${url}/${ACCOUNT_ID}/${DEAD_LETTER_QUEUE}`);
    env.set('SQS_ENDPOINT', url);
    env.set('EVENTBRIDGE_ENDPOINT', url);
    const userDynamoEndpoint = options.dynamodb?.endpoint ?? options.env?.['DYNAMODB_ENDPOINT'] ?? nonEmpty(process.env['DYNAMODB_ENDPOINT']);
    for (const [k, v] of Object.entries(options.env ?? {})) env.set(k, v);

    const region = process.env['AWS_REGION'] ?? 'us-east-1';
    const tableName = process.env['TABLE_NAME'] ?? 'realtime';
    const busName = process.env['EVENT_BUS_NAME'] ?? 'realtime';

    const dynamoOptions: Parameters<typeof startLocalDynamo>[0] = {
      tableName,
      tableDefinition: options.dynamodb?.tableDefinition ?? defaultTableDefinition(tableName),
      ttlAttribute: TTL_ATTRIBUTE,
      region,
      credentials: {
        accessKeyId: process.env['AWS_ACCESS_KEY_ID'] ?? 'local',
        secretAccessKey: process.env['AWS_SECRET_ACCESS_KEY'] ?? 'local',
      },
      log: log.child('dynamodb'),
    };
    if (userDynamoEndpoint) dynamoOptions.endpoint = userDynamoEndpoint;
    dynamo = await startLocalDynamo(dynamoOptions);
    env.set('DYNAMODB_ENDPOINT', dynamo.endpoint);

    // Handlers, imported now that the environment (and the `awslambda` global) is set.
    installAwsLambdaShim();
    const functions = await loadFunctions(options, region, log.child('lambda'));

    // SQS.
    const sqs = options.sqs ?? {};
    const maxMessageBytes = sqs.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const dlq = new LocalQueue({
      name: DEAD_LETTER_QUEUE,
      region,
      baseUrl: url,
      visibilityTimeoutMs: 30_000,
      maxMessageBytes,
      timers,
      log: log.child('sqs'),
    });
    const events = new LocalQueue({
      name: EVENTS_QUEUE,
      region,
      baseUrl: url,
      visibilityTimeoutMs: sqs.visibilityTimeoutMs ?? EVENTS_QUEUE_SETTINGS.visibilityTimeoutSeconds * 1000,
      maxMessageBytes,
      redrive: { target: dlq, maxReceiveCount: sqs.maxReceiveCount ?? EVENTS_QUEUE_SETTINGS.maxReceiveCount },
      timers,
      log: log.child('sqs'),
    });
    const queues = { events, dlq };
    const eventSource = new SqsEventSourceMapping({
      queue: events,
      fn: functions.fanout as LambdaFunction<SQSEvent, SQSBatchResponse | null>,
      region,
      batchSize: sqs.batchSize ?? EVENTS_QUEUE_SETTINGS.batchSize,
      batchWindowMs: sqs.batchWindowMs ?? EVENTS_QUEUE_SETTINGS.maxBatchingWindowSeconds * 1000,
      maxConcurrency: sqs.maxConcurrency ?? EVENTS_QUEUE_SETTINGS.maxConcurrency,
      reportBatchItemFailures: sqs.reportBatchItemFailures ?? true,
      timers,
      log: log.child('esm'),
    });

    // EventBridge.
    const rules = options.rules ?? [
      // No bus: locally any bus name is accepted (the publisher CLI defaults to `default`).
      { name: 'realtime-events', detailType: [...DEFAULT_DETAIL_TYPES], queue: EVENTS_QUEUE },
    ];
    const eventBridge = new LocalEventBridge({
      region,
      defaultBusName: busName,
      rules,
      queue: (name) => (name === EVENTS_QUEUE ? events : name === DEAD_LETTER_QUEUE ? dlq : undefined),
      log: log.child('events'),
    });

    // API Gateway.
    const gateway = new WebSocketGateway({
      stage,
      apiId,
      region,
      routes: options.routes ?? DEFAULT_ROUTES,
      idleTimeoutMs: options.idleTimeoutMs ?? WEBSOCKET_LIMITS.idleTimeoutMs,
      maxConnectionMs: options.maxConnectionMs ?? WEBSOCKET_LIMITS.maxConnectionMs,
      maxMessageBytes: WEBSOCKET_LIMITS.maxMessageBytes,
      functions: functions as unknown as GatewayFunctions,
      timers,
      log: log.child('gateway'),
    });
    const management = new ManagementApi({
      stage,
      gateway,
      maxPayloadBytes: WEBSOCKET_LIMITS.maxMessageBytes,
      latencyMs: options.management?.latencyMs ?? 0,
      timers,
      log: log.child('management'),
    });

    // The SSE function URL (RESPONSE_STREAM).
    const sse = new FunctionUrl({ fn: functions.sse, path: '/sse', region, log: log.child('sse') });

    const d = dynamo;
    const checks: HealthCheck[] = [
      { name: 'dynamodb', check: () => d.check() },
      // The presence engine the handlers use (memory, or Redis when REDIS_URL is set).
      { name: 'presence', check: async () => (await import('../functions/wiring/presence.ts')).presenceStore().ping() },
      ...(options.healthChecks ?? []),
    ];
    for (const route of demoRoutes({ url, settled: () => events.drained(), log: log.child('demo') })) router.add(route);
    router
      .add(healthRoute(() => checks))
      .add(eventBridgeRoute(eventBridge, log.child('events')))
      .add(sqsRoute({ queues: () => [events, dlq], timers, log: log.child('sqs') }))
      .add(management.route())
      .add(sse.route())
      .add({
        name: 'websocket',
        methods: ['GET'],
        path: '/',
        handle: ({ res }) => sendJson(res, 426, { message: 'Upgrade Required' }, { upgrade: 'websocket' }),
      });
    upgradeHandler = gateway.handleUpgrade;
    eventSource.start();
    ready = true;

    const envSnapshot = env.snapshot();
    log.info('local runtime ready', { url, ws: url.replace(/^http/, 'ws'), management: `${url}/${stage}`, sse: `${url}/sse`, dynamodb: d.endpoint });

    let closing: Promise<void> | undefined;
    const runtime: LocalRuntime = {
      host,
      port,
      stage,
      url,
      wsUrl: url.replace(/^http/, 'ws'),
      managementEndpoint: `${url}/${stage}`,
      sseUrl: `${url}/sse`,
      sse,
      env: envSnapshot,
      gateway,
      management,
      queues,
      eventSource,
      eventBridge,
      dynamodb: d,
      functions,
      health: () => runHealthChecks(checks),
      close: () =>
        (closing ??= (async () => {
          log.debug('closing');
          await gateway.close();
          await eventSource.stop();
          ready = false;
          events.close();
          dlq.close();
          timers.closeAll();
          // Closing the server cuts the SSE streams; their handlers notice and return.
          await closeServer(server);
          await withTimeout(sse.idle(), 5000);
          await d.close();
          env.restore();
          log.info('local runtime closed');
        })()),
    };
    return runtime;
  } catch (error) {
    timers.closeAll();
    await closeServer(server);
    await dynamo?.close();
    env.restore();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------

async function loadFunctions(
  options: LocalRuntimeOptions,
  region: string,
  log: RuntimeLog,
): Promise<Record<FunctionKey, LambdaFunction>> {
  const rootDir = options.rootDir ?? projectRoot;
  const keys = Object.keys(FUNCTION_NAMES) as FunctionKey[];
  const loaded = await Promise.all(
    keys.map(async (key) => {
      const spec = options.handlers?.[key] ?? DEFAULT_HANDLER_MODULES[key];
      const handler = typeof spec === 'function' ? spec : await importHandler(resolvePath(rootDir, spec), key);
      return new LambdaFunction(
        {
          functionName: FUNCTION_NAMES[key],
          timeoutMs: options.lambda?.timeoutMs?.[key] ?? DEFAULT_TIMEOUTS[key],
          memoryMB: options.lambda?.memoryMB ?? HANDLERS[key].memoryMB,
          region,
        },
        handler,
        log,
      );
    }),
  );
  return Object.fromEntries(keys.map((k, i) => [k, loaded[i]])) as Record<FunctionKey, LambdaFunction>;
}

async function importHandler(file: string, key: FunctionKey): Promise<LocalHandler> {
  let mod: { handler?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { handler?: unknown };
  } catch (error) {
    throw new Error(`Could not load the ${key} handler from ${file}: ${errorMessageOf(error)}`, { cause: error });
  }
  if (typeof mod.handler !== 'function') throw new Error(`${file} does not export a handler function`);
  return mod.handler as LocalHandler;
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}

function portFromEnv(): number {
  const raw = process.env['REALTIME_PORT'];
  if (raw === undefined || raw === '') return 3001;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`REALTIME_PORT is not a port: ${raw}`);
  return port;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`Port ${String(port)} on ${host} is in use (set REALTIME_PORT, or port: 0 for a free one)`, { cause: error })
          : error,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets of SDK clients would hold close() open.
    server.closeAllConnections();
  });
}

/** Environment variables the runtime sets, remembered so close() puts the previous values back. */
class EnvScope {
  readonly #previous = new Map<string, string | undefined>();
  readonly #set = new Map<string, string>();

  /** Sets unless the user already set a non-empty value. */
  setDefault(name: string, value: string): void {
    if (nonEmpty(process.env[name]) !== undefined) return;
    this.set(name, value);
  }

  set(name: string, value: string): void {
    if (!this.#previous.has(name)) this.#previous.set(name, process.env[name]);
    process.env[name] = value;
    this.#set.set(name, value);
  }

  snapshot(): Readonly<Record<string, string>> {
    return Object.freeze(Object.fromEntries(this.#set));
  }

  restore(): void {
    for (const [name, value] of this.#previous) {
      // Leave a variable alone if something else changed it since.
      if (process.env[name] !== this.#set.get(name)) continue;
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    this.#previous.clear();
  }
}
