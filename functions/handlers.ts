/**
 * Every Lambda entry file, in one place: the bundler, the local runtime and the CDK stack
 * (lib/) read this list, so a handler cannot be deployed in one and forgotten in another.
 * `timeoutSeconds` is the function timeout on AWS and in the local runtime alike; `memoryMB` is
 * what the stack deploys and what the cost model (bench/cost.ts) prices. The fan-out posts many
 * calls at once and gets the most (Lambda's CPU share grows with memory); SSE streams mostly wait.
 */
export const HANDLERS = {
  authorizer: { entry: 'functions/ws-authorizer.ts', functionName: 'realtime-ws-authorizer', timeoutSeconds: 10, memoryMB: 256 },
  connect: { entry: 'functions/ws-connect.ts', functionName: 'realtime-ws-connect', timeoutSeconds: 10, memoryMB: 512 },
  disconnect: { entry: 'functions/ws-disconnect.ts', functionName: 'realtime-ws-disconnect', timeoutSeconds: 10, memoryMB: 512 },
  message: { entry: 'functions/ws-message.ts', functionName: 'realtime-ws-message', timeoutSeconds: 10, memoryMB: 512 },
  fanout: { entry: 'functions/fanout.ts', functionName: 'realtime-fanout', timeoutSeconds: 60, memoryMB: 1024 },
  /**
   * A function URL with invoke mode RESPONSE_STREAM, outside the VPC. Lambda's maximum, 15
   * minutes; the stream ends cleanly before it (SSE_DEFAULT_MAX_DURATION_MS, and always some
   * seconds before the remaining time runs out).
   */
  sse: { entry: 'functions/sse.ts', functionName: 'realtime-sse', timeoutSeconds: 15 * 60, memoryMB: 256 },
} as const;

/** The longest SSE stream by default (`SSE_MAX_DURATION_MS`): a minute inside the function's timeout. */
export const SSE_DEFAULT_MAX_DURATION_MS = HANDLERS.sse.timeoutSeconds * 1000 - 60_000;

/**
 * The events queue and its event source mapping to the fan-out, shared by the CDK stack and
 * the local runtime's SQS emulation.
 */
export const EVENTS_QUEUE_SETTINGS = {
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: 5,
  /** AWS's advice for a queue feeding Lambda: visibility at least 6 x the function timeout, so
   * a batch being retried by the poller is not handed to a second invocation meanwhile. */
  visibilityTimeoutSeconds: 6 * HANDLERS.fanout.timeoutSeconds,
  /** Records per invocation: enough to amortise a cold start and the table client, few enough
   * that one slow channel (records of a channel run in order) does not hold many others. */
  batchSize: 10,
  /** No batching window: every job update waits for it, and latency is the product. The
   * poller still batches whatever is already in the queue. */
  maxBatchingWindowSeconds: 0,
  /** Concurrent batches at most: bounds the fan-out's pressure on the @connections API and on
   * the account's concurrency during a burst (the queue absorbs the rest). */
  maxConcurrency: 10,
} as const;

export type HandlerName = keyof typeof HANDLERS;

/**
 * How every handler is bundled, shared by `npm run build` (scripts/bundle.ts) and the CDK
 * `NodejsFunction`s, so the bundle measured here is the bundle deployed.
 *
 * `@aws-sdk/*` stays external: the Lambda Node.js runtime ships SDK v3, and bundling it would
 * triple every handler (cold start grows with bundle size). The price is running on the
 * runtime's SDK version rather than the pinned one the tests use; the SDK keeps v3 compatible.
 */
export const BUNDLING = {
  /** The Lambda runtime the bundles target (and the CDK deploys). */
  nodeMajor: 22,
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: true,
  external: ['@aws-sdk/*'],
  /**
   * Dynamic imports become chunks of their own beside `index.mjs` (ioredis, loaded on the first
   * presence call): a cold start parses only the entry chunk. This needs esbuild's `outdir`
   * (`splitting` cannot write one `outfile`): each handler's directory holds `index.mjs` and
   * `chunks/*.mjs`, and is the Lambda asset as it is. With one file instead (no splitting), the
   * same code still loads lazily, but the file carries it.
   */
  splitting: true,
  entryNames: 'index',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: '.mjs',
  /** Some CommonJS dependencies call require(); give ESM bundles one. */
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
} as const;
