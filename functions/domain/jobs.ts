import type { JobApplyOutcome, JobState } from './ports.ts';
import { TERMINAL_STATUSES, type JobUpdateData, type JobUpdateDetail } from './messages.ts';

export type JobDecision = Exclude<JobApplyOutcome['kind'], 'applied'> | 'apply';

/**
 * The no-regression rules for a job's state, shared by every ChannelStore adapter (the
 * DynamoDB adapter mirrors them in a condition expression and uses this to explain a failed
 * condition):
 * - the job's first event fixes its owner; an event naming another user is refused;
 * - a terminal status (completed, failed, cancelled) is final;
 * - the same event id as the last applied one is a retry, not a new update;
 * - when both sides carry a `sequence`, a lower sequence is stale; otherwise a strictly older
 *   `timestamp` is stale. Equal values are applied in arrival order.
 */
export function decideJobUpdate(current: JobState | undefined, update: JobUpdateDetail, eventId: string): JobDecision {
  if (!current) return 'apply';
  if (current.lastEventId === eventId) return 'already-applied';
  if (current.userId !== update.userId) return 'owner-mismatch';
  if (TERMINAL_STATUSES.has(current.status)) return 'terminal';
  if (update.sequence !== undefined && current.sequence !== undefined) {
    return update.sequence < current.sequence ? 'stale' : 'apply';
  }
  return Date.parse(update.timestamp) < Date.parse(current.timestamp) ? 'stale' : 'apply';
}

/** The state after applying `update`: optional fields absent from the update are cleared. */
export function nextJobState(
  current: JobState | undefined,
  update: JobUpdateDetail,
  eventId: string,
  now: number,
  expiresAt: number,
): JobState {
  const state: JobState = {
    jobId: update.jobId,
    userId: current?.userId ?? update.userId,
    status: update.status,
    timestamp: update.timestamp,
    offset: (current?.offset ?? 0) + 1,
    lastEventId: eventId,
    updatedAt: now,
    expiresAt,
  };
  if (update.progress !== undefined) state.progress = update.progress;
  if (update.message !== undefined) state.message = update.message;
  if (update.error !== undefined) state.error = update.error;
  const sequence = update.sequence ?? current?.sequence;
  if (sequence !== undefined) state.sequence = sequence;
  return state;
}

/** The wire form of a job's state (`data` of a `job:update`). */
export function jobUpdateData(state: JobState): JobUpdateData {
  const data: JobUpdateData = { type: 'job.update', jobId: state.jobId, status: state.status, timestamp: state.timestamp };
  if (state.progress !== undefined) data.progress = state.progress;
  if (state.message !== undefined) data.message = state.message;
  if (state.error !== undefined) data.error = state.error;
  return data;
}
