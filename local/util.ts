/**
 * Small helpers shared by the local runtime's modules: AWS-looking ids, timers the runtime can
 * cancel on close, and a tracker of background work that close() waits for.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const ACCOUNT_ID = '000000000000';

/** An API Gateway style id: 11 random bytes as base64url, padded to 16 chars (`L0SM9cOFvHcCIhw=`). */
export function apiGatewayId(): string {
  return `${randomBytes(11).toString('base64url')}=`;
}

export const uuid = (): string => randomUUID();

export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** `09/Apr/2020:18:03:43 +0000`, the format of API Gateway's `requestTime`. */
export function apiGatewayRequestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()] ?? 'Jan'}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())} +0000`;
}

/** ISO 8601 without milliseconds, like EventBridge's `time`. */
export function isoSeconds(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A promise with its resolver outside. */
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

/**
 * setTimeout that the runtime can cancel all at once on close, so nothing keeps the process
 * (or vitest) alive after close().
 */
export class Timers {
  readonly #pending = new Set<NodeJS.Timeout>();
  readonly #sleepers = new Map<NodeJS.Timeout, () => void>();
  #closed = false;

  set(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      fn();
    }, Math.max(0, ms));
    if (this.#closed) clearTimeout(timer);
    else this.#pending.add(timer);
    return timer;
  }

  clear(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this.#pending.delete(timer);
  }

  /** Resolves after `ms`, or at once when the timers are closed. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.set(() => {
        this.#sleepers.delete(timer);
        resolve();
      }, ms);
      this.#sleepers.set(timer, resolve);
    });
  }

  closeAll(): void {
    this.#closed = true;
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
    for (const resolve of this.#sleepers.values()) resolve();
    this.#sleepers.clear();
  }
}

/** Background promises (handler invocations) that close() must wait for. */
export class Tracker {
  readonly #pending = new Set<Promise<unknown>>();

  track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const done = (): void => {
      this.#pending.delete(promise);
    };
    promise.then(done, done);
    return promise;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Waits until nothing tracked is pending, including work started while waiting. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) {
      await Promise.allSettled([...this.#pending]);
    }
  }
}
