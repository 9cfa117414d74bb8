/**
 * Small test doubles shared by the domain unit tests. They observe; they never replace the
 * unit under test (the memory adapters stand in for the real stores).
 */
import type { MetricName, Metrics } from '../../functions/domain/ports.ts';

/** Metrics that remember every count and timing. */
export class RecordingMetrics implements Metrics {
  readonly counts = new Map<MetricName, number>();
  readonly timings: { name: 'DeliveryLatency'; ms: number }[] = [];

  count(name: MetricName, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  timing(name: 'DeliveryLatency', ms: number): void {
    this.timings.push({ name, ms });
  }

  /** Sum of the counts of `name` (0 when never counted). */
  total(name: MetricName): number {
    return this.counts.get(name) ?? 0;
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (one macrotask turn; no timers involved). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A `sleep` that returns at once and remembers what it was asked to wait. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
}
