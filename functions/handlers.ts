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
