/**
 * Exponential backoff with full jitter (a random wait between 0 and the exponential ceiling),
 * so a fleet of clients cut off by one outage does not come back in lockstep.
 */
export interface BackoffOptions {
  /** The first ceiling. @default 500 */
  baseMs?: number;
  /** The ceiling never grows past this. @default 30000 */
  maxMs?: number;
  /** A number in [0, 1). @default Math.random */
  random?: () => number;
}

export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#baseMs = Math.max(1, options.baseMs ?? 500);
    this.#maxMs = Math.max(this.#baseMs, options.maxMs ?? 30_000);
    this.#random = options.random ?? Math.random;
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The ceiling of the next wait: base · 2^attempt, capped. */
  ceiling(): number {
    return Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#attempt, 30));
  }

  /** The next wait, and counts the attempt. */
  next(): number {
    const ms = Math.floor(this.#random() * this.ceiling());
    this.#attempt++;
    return ms;
  }

  /** After a stable connection: the next failure starts from the base again. */
  reset(): void {
    this.#attempt = 0;
  }
}
