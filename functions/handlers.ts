/**
 * Every Lambda entry file, in one place: the bundler, the local runtime and (later) the CDK
 * stack read this list, so a handler cannot be deployed in one and forgotten in another.
 */
export const HANDLERS = {
  authorizer: { entry: 'functions/ws-authorizer.ts', functionName: 'realtime-ws-authorizer' },
  connect: { entry: 'functions/ws-connect.ts', functionName: 'realtime-ws-connect' },
  disconnect: { entry: 'functions/ws-disconnect.ts', functionName: 'realtime-ws-disconnect' },
  message: { entry: 'functions/ws-message.ts', functionName: 'realtime-ws-message' },
  fanout: { entry: 'functions/fanout.ts', functionName: 'realtime-fanout' },
  /** A function URL with invoke mode RESPONSE_STREAM, outside the VPC. */
  sse: { entry: 'functions/sse.ts', functionName: 'realtime-sse' },
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
