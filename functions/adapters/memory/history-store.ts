/**
 * In-memory HistoryStore. SINGLE-PROCESS ONLY: state lives in this object, so it suits tests
 * and the local runtime, never more than one Lambda instance. Same observable behaviour as
 * DynamoHistoryStore (checked by test/contract/history-store.contract.ts): messages are kept
 * by offset (appending an offset again replaces it) and expired ones are never read.
 */
import type { ChannelMessage } from '../../domain/messages.ts';
import { systemClock, type Clock, type HistoryStore } from '../../domain/ports.ts';
import { copy, isExpired } from './support.ts';

interface Entry {
  message: ChannelMessage;
  expiresAt: number;
}

export class MemoryHistoryStore implements HistoryStore {
  private readonly clock: Clock;
  /** channel -> offset -> entry */
  private readonly channels = new Map<string, Map<number, Entry>>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  append(channel: string, message: ChannelMessage, expiresAt: number): Promise<void> {
    let entries = this.channels.get(channel);
    if (!entries) this.channels.set(channel, (entries = new Map()));
    entries.set(message.offset, { message: copy(message), expiresAt });
    return Promise.resolve();
  }

  readAfter(channel: string, after: number, limit: number): Promise<ChannelMessage[]> {
    const entries = [...(this.channels.get(channel)?.entries() ?? [])]
      .filter(([offset, entry]) => offset > after && !isExpired(entry.expiresAt, this.clock))
      .sort(([a], [b]) => a - b);
    return Promise.resolve(entries.slice(0, Math.max(0, limit)).map(([, entry]) => copy(entry.message)));
  }
}
