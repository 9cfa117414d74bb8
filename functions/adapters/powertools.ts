import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { Log, LogAttributes, Metrics, MetricName } from '../domain/ports.ts';

const SERVICE = process.env['POWERTOOLS_SERVICE_NAME'] ?? 'realtime';

export const logger = new Logger({ serviceName: SERVICE });
export const metrics = new PowertoolsMetrics({ namespace: process.env['POWERTOOLS_METRICS_NAMESPACE'] ?? 'Realtime', serviceName: SERVICE });

/** The domain's Log port over Powertools Logger (JSON, with the invocation's keys). */
export const log: Log = {
  debug: (message: string, attributes?: LogAttributes) => logger.debug(message, attributes ?? {}),
  info: (message: string, attributes?: LogAttributes) => logger.info(message, attributes ?? {}),
  warn: (message: string, attributes?: LogAttributes) => logger.warn(message, attributes ?? {}),
  error: (message: string, attributes?: LogAttributes) => logger.error(message, attributes ?? {}),
};

/** The domain's Metrics port over Powertools Metrics (CloudWatch EMF). */
export const metricsPort: Metrics = {
  count: (name: MetricName, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
  timing: (name: 'DeliveryLatency', ms: number) => metrics.addMetric(name, MetricUnit.Milliseconds, ms),
};

/**
 * Runs one invocation with fresh log keys and flushes the metrics it recorded, whatever happens.
 */
export async function instrumented<T>(keys: LogAttributes, fn: () => Promise<T>): Promise<T> {
  logger.resetKeys();
  logger.appendKeys(keys);
  try {
    return await fn();
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
