/**
 * `GET /health`: runs every registered check (DynamoDB first; presence or Redis can be added
 * through the `healthChecks` option) and answers 200 `healthy` or 503 `degraded`.
 */
import type { Route } from './http-router.ts';
import { sendJson } from './http-router.ts';
import { errorMessageOf } from './util.ts';

export interface HealthCheck {
  name: string;
  /** Resolves when healthy; throws (or rejects) with the reason otherwise. */
  check(): Promise<void>;
}

export interface HealthReport {
  status: 'healthy' | 'degraded';
  checks: { name: string; status: 'healthy' | 'unhealthy'; latencyMs: number; reason?: string }[];
  timestamp: string;
}

const CHECK_TIMEOUT_MS = 2000;

export async function runHealthChecks(checks: readonly HealthCheck[]): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${String(CHECK_TIMEOUT_MS)} ms`)), CHECK_TIMEOUT_MS);
          }),
        ]);
        return { name: c.name, status: 'healthy' as const, latencyMs: Date.now() - started };
      } catch (error) {
        return { name: c.name, status: 'unhealthy' as const, latencyMs: Date.now() - started, reason: errorMessageOf(error) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return {
    status: results.every((r) => r.status === 'healthy') ? 'healthy' : 'degraded',
    checks: results,
    timestamp: new Date().toISOString(),
  };
}

export function healthRoute(checks: () => readonly HealthCheck[]): Route {
  return {
    name: 'health',
    methods: ['GET'],
    path: '/health',
    handle: async ({ res }) => {
      const report = await runHealthChecks(checks());
      sendJson(res, report.status === 'healthy' ? 200 : 503, report, { 'cache-control': 'no-store' });
    },
  };
}
