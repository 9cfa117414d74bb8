/**
 * In-memory EventLedger. SINGLE-PROCESS ONLY: state lives in this object, so it suits tests
 * and the local runtime, never more than one Lambda instance (it cannot stop a redelivery
 * handled by another process). Same observable behaviour as DynamoEventLedger (checked by
 * test/contract/event-ledger.contract.ts).
 */
import { systemClock, type ClaimOutcome, type Clock, type EventLedger } from '../../domain/ports.ts';
import { isExpired } from './support.ts';

type Entry = { status: 'processing'; leaseUntil: number; expiresAt: number } | { status: 'done'; expiresAt: number };

export class MemoryEventLedger implements EventLedger {
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  claim(eventId: string, leaseMs: number, expiresAt: number): Promise<ClaimOutcome> {
    const now = this.clock.now();
    const entry = this.entries.get(eventId);
    if (entry && !isExpired(entry.expiresAt, this.clock)) {
      if (entry.status === 'done') return Promise.resolve('done');
      if (entry.leaseUntil >= now) return Promise.resolve('busy');
    }
    this.entries.set(eventId, { status: 'processing', leaseUntil: now + leaseMs, expiresAt });
    return Promise.resolve('claimed');
  }

  complete(eventId: string, expiresAt: number): Promise<void> {
    this.entries.set(eventId, { status: 'done', expiresAt });
    return Promise.resolve();
  }

  release(eventId: string): Promise<void> {
    if (this.entries.get(eventId)?.status === 'processing') this.entries.delete(eventId);
    return Promise.resolve();
  }
}
