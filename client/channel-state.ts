/**
 * Per-channel delivery rules of the protocol: keep the highest offset delivered, drop anything
 * at or below it (a replay may repeat a live message; a retried fan-out may post twice), and
 * hold a message whose predecessor is missing until it arrives (two posts in flight may swap).
 * A gap that does not fill within `holdMs` asks the client to resync the channel (subscribe
 * again with `since`), which replays it from history or answers `recovered: false`.
 */
import type { ChannelMessage } from '../functions/domain/messages.ts';
import { Timer, type Timers } from './timers.ts';

export class ChannelState {
  /** The highest offset delivered to the app. */
  #last: number | undefined;
  /** The next message starts afresh (a new subscription, or after `recovered: false`). */
  #baseline = true;
  readonly #held = new Map<number, ChannelMessage>();
  readonly #holdTimer: Timer;

  constructor(
    readonly channel: string,
    timers: Timers,
    private readonly holdMs: number,
    private readonly onGap: () => void,
    since?: number,
  ) {
    this.#holdTimer = new Timer(timers);
    if (since !== undefined) {
      this.#last = since;
      this.#baseline = false;
    }
  }

  /** What to send as `since` when subscribing again: undefined until something was delivered. */
  get last(): number | undefined {
    return this.#last;
  }

  get holding(): number {
    return this.#held.size;
  }

  /** Returns the messages to deliver now, in offset order (none when it is a repeat or held). */
  accept(message: ChannelMessage): ChannelMessage[] {
    return this.#take(message.offset, message);
  }

  /**
   * An offset this client produced itself (the `published` ack of its own `publish`, which the
   * server does not echo back): counted as seen, so the next message is not taken for a gap.
   */
  markSeen(offset: number): ChannelMessage[] {
    return this.#take(offset, undefined);
  }

  #take(offset: number, message: ChannelMessage | undefined): ChannelMessage[] {
    if (this.#last !== undefined && offset <= this.#last) return [];
    if (this.#baseline) {
      this.#baseline = false;
      this.#last = offset - 1;
      for (const held of [...this.#held.keys()]) if (held <= this.#last) this.#held.delete(held);
    }
    if (this.#last !== undefined && offset > this.#last + 1) {
      if (!message) return []; // an own publish past a gap: the gap's resync replays it
      this.#held.set(offset, message);
      if (!this.#holdTimer.armed) this.#holdTimer.set(this.holdMs, () => this.#gapExpired());
      return [];
    }
    const out: ChannelMessage[] = message ? [message] : [];
    this.#last = offset;
    for (let next = this.#held.get(offset + 1); next; next = this.#held.get(this.#last + 1)) {
      this.#held.delete(next.offset);
      out.push(next);
      this.#last = next.offset;
    }
    if (this.#held.size === 0) this.#holdTimer.clear();
    return out;
  }

  /**
   * The server could not replay what was missed (`recovered: false`, or SSE `recovery`): the
   * next message is taken as the new starting point, whatever its offset. Returns held
   * messages that can be delivered now.
   */
  restart(): ChannelMessage[] {
    this.#holdTimer.clear();
    if (this.#held.size === 0) {
      this.#baseline = true;
      return [];
    }
    // Messages already held are newer than anything delivered: continue from the oldest.
    const first = this.#held.get(Math.min(...this.#held.keys())) as ChannelMessage;
    this.#held.delete(first.offset);
    this.#baseline = true;
    return this.accept(first);
  }

  dispose(): void {
    this.#holdTimer.clear();
    this.#held.clear();
  }

  #gapExpired(): void {
    if (this.#held.size > 0) this.onGap();
  }
}
