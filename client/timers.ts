/**
 * Time, as the SDK sees it: injected so tests drive it with a fake clock. The defaults use the
 * globals that browsers and Node share (no Node built-ins).
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as never),
  now: () => Date.now(),
};

/** Runs `fn` before the next paint (requestAnimationFrame), or soon where there is none. */
export type FrameScheduler = (fn: () => void) => void;

export function defaultFrameScheduler(timers: Timers): FrameScheduler {
  const raf = (globalThis as { requestAnimationFrame?: (fn: () => void) => unknown }).requestAnimationFrame;
  if (typeof raf === 'function') return (fn) => void raf.call(globalThis, fn);
  return (fn) => void timers.setTimeout(fn, 16);
}

/** One pending timeout that can be re-armed or cancelled. */
export class Timer {
  #handle: unknown;
  #armed = false;

  constructor(private readonly timers: Timers) {}

  get armed(): boolean {
    return this.#armed;
  }

  set(ms: number, fn: () => void): void {
    this.clear();
    this.#armed = true;
    this.#handle = this.timers.setTimeout(() => {
      this.#armed = false;
      fn();
    }, Math.max(0, ms));
  }

  clear(): void {
    if (this.#armed) this.timers.clearTimeout(this.#handle);
    this.#armed = false;
  }
}
