import type { Clock } from '../../functions/domain/ports.ts';

/** A clock the test moves by hand: `now` is epoch milliseconds and may be assigned freely. */
export class FakeClock implements Clock {
  constructor(public nowMs: number = Date.UTC(2030, 0, 1)) {}

  now(): number {
    return this.nowMs;
  }

  /** Epoch seconds `seconds` from now: an `expiresAt`. */
  inSeconds(seconds: number): number {
    return Math.floor(this.nowMs / 1000) + seconds;
  }

  advanceSeconds(seconds: number): void {
    this.nowMs += seconds * 1000;
  }
}
