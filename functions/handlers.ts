/**
 * Every Lambda entry file, in one place: the bundler, the local runtime and (later) the CDK
 * stack read this list, so a handler cannot be deployed in one and forgotten in another.
 */
export const HANDLERS = {
  wsAuthorizer: 'functions/ws-authorizer.ts',
  wsConnect: 'functions/ws-connect.ts',
  wsDisconnect: 'functions/ws-disconnect.ts',
  wsMessage: 'functions/ws-message.ts',
  fanout: 'functions/fanout.ts',
} as const;

export type HandlerName = keyof typeof HANDLERS;
