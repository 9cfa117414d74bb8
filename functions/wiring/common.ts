/**
 * What every Lambda's wiring shares: its configuration, read once, and build-once caching.
 * Nothing is built at import time: the local runtime sets the environment before the first
 * invocation. Each entry file imports only the wiring module it needs, so a bundle carries
 * only its own clients (the authorizer has no DynamoDB client, for instance).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { loadConfig, type Config } from '../config.ts';

let cache = new Map<string, unknown>();

/** Builds a value once per cold start (per process). */
export function once<T>(key: string, build: () => T): T {
  if (!cache.has(key)) cache.set(key, build());
  return cache.get(key) as T;
}

export const config = (): Config => once('config', () => loadConfig());

/** Keep-alive sockets: a fan-out posts many times to the same host. */
export function requestHandler(maxSockets: number): NodeHttpHandler {
  return new NodeHttpHandler({
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    connectionTimeout: 3000,
    requestTimeout: 10_000,
  });
}

/** Forgets everything built, for tests that run several configurations in one process. */
export function resetDependencies(): void {
  cache = new Map();
}
