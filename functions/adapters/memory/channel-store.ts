/**
 * In-memory ChannelStore. SINGLE-PROCESS ONLY: state lives in this object, so it suits tests
 * and the local runtime, never more than one Lambda instance. Same observable behaviour as
 * DynamoChannelStore (checked by test/contract/channel-store.contract.ts): job updates follow
 * decideJobUpdate/nextJobState exactly, offsets are consecutive per channel, the last event id
 * is idempotent, and an expired head is absent (the channel starts over at offset 1).
 */
import { decideJobUpdate, nextJobState } from '../../domain/jobs.ts';
import { jobChannel } from '../../domain/channels.ts';
import type { JobUpdateDetail } from '../../domain/messages.ts';
import { systemClock, type ChannelStore, type Clock, type ChannelHead, type JobApplyOutcome, type JobState } from '../../domain/ports.ts';
import { copy, isExpired } from './support.ts';

/** A channel head: a JobState for `jobs.{id}`, just the offset for other channels. */
type Head = JobState | { offset: number; lastEventId: string; expiresAt: number };

const isJob = (head: Head): head is JobState => 'jobId' in head && 'status' in head;

export class MemoryChannelStore implements ChannelStore {
  private readonly clock: Clock;
  private readonly entries = new Map<string, Head>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  applyJobUpdate(update: JobUpdateDetail, eventId: string, expiresAt: number): Promise<JobApplyOutcome> {
    const channel = jobChannel(update.jobId);
    const current = this.currentJob(channel);
    const decision = decideJobUpdate(current, update, eventId);
    if (decision === 'apply' || current === undefined) {
      const state = nextJobState(current, update, eventId, this.clock.now(), expiresAt);
      this.entries.set(channel, copy(state));
      return Promise.resolve({ kind: 'applied', state: copy(state) });
    }
    return Promise.resolve({ kind: decision, state: copy(current) });
  }

  getJob(jobId: string): Promise<JobState | undefined> {
    const current = this.currentJob(jobChannel(jobId));
    return Promise.resolve(current && copy(current));
  }

  async heads(channels: readonly string[]): Promise<Map<string, ChannelHead>> {
    const found = new Map<string, ChannelHead>();
    for (const channel of channels) {
      const head = this.current(channel);
      if (head) found.set(channel, isJob(head) ? { channel, offset: head.offset, job: copy(head) } : { channel, offset: head.offset });
    }
    return found;
  }

  advance(channel: string, eventId: string, expiresAt: number): Promise<{ offset: number; alreadyApplied: boolean }> {
    const head = this.current(channel);
    if (head?.lastEventId === eventId) return Promise.resolve({ offset: head.offset, alreadyApplied: true });
    const offset = (head?.offset ?? 0) + 1;
    // A job head keeps its state; advance only moves its offset, as on DynamoDB.
    this.entries.set(channel, { ...head, offset, lastEventId: eventId, expiresAt });
    return Promise.resolve({ offset, alreadyApplied: false });
  }

  private current(channel: string): Head | undefined {
    const head = this.entries.get(channel);
    return head && !isExpired(head.expiresAt, this.clock) ? head : undefined;
  }

  private currentJob(channel: string): JobState | undefined {
    const head = this.current(channel);
    return head && isJob(head) ? head : undefined;
  }
}
