/**
 * In-memory EventLedger. SINGLE-PROCESS ONLY: state lives in this object, so it suits tests
 * and the local runtime, never more than one Lambda instance (it cannot stop a redelivery
 * handled by another process). Same observable behaviour as DynamoEventLedger (checked by
 * test/contract/event-ledger.contract.ts).
 */
import { systemClock, type AssignedEvent, type ClaimOutcome, type Clock, type EventLedger } from '../../domain/ports.ts';
import { isExpired } from './support.ts';

type Entry =
  | { status: 'processing'; leaseUntil: number; expiresAt: number; assigned?: AssignedEvent }
  | { status: 'done'; expiresAt: number };

export class MemoryEventLedger implements EventLedger {
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  async claim(eventId: string, leaseMs: number, expiresAt: number): Promise<ClaimOutcome> {
    const now = this.clock.now();
    const entry = this.entries.get(eventId);
    const live = entry && !isExpired(entry.expiresAt, this.clock) ? entry : undefined;
    if (live?.status === 'done') return { status: 'done' };
    if (live && live.leaseUntil >= now) return { status: 'busy' };
    const assigned = live?.assigned;
    this.entries.set(eventId, { status: 'processing', leaseUntil: now + leaseMs, expiresAt, ...(assigned ? { assigned } : {}) });
    return assigned ? { status: 'claimed', assigned: structuredClone(assigned) } : { status: 'claimed' };
  }

  async assign(eventId: string, assigned: AssignedEvent): Promise<void> {
    const entry = this.entries.get(eventId);
    if (entry?.status === 'processing') entry.assigned = structuredClone(assigned);
  }

  async complete(eventId: string, expiresAt: number): Promise<void> {
    this.entries.set(eventId, { status: 'done', expiresAt });
  }

  async release(eventId: string): Promise<void> {
    const entry = this.entries.get(eventId);
    if (entry?.status === 'processing') entry.leaseUntil = 0;
  }
}
