import { describe, expect, it } from 'vitest';
import { decideJobUpdate, jobUpdateData, nextJobState } from '../../functions/domain/jobs.ts';
import type { JobStatus, JobUpdateDetail } from '../../functions/domain/messages.ts';
import type { JobState } from '../../functions/domain/ports.ts';

const T0 = '2030-01-01T00:00:00.000Z';
const T1 = '2030-01-01T00:00:01.000Z';
const T2 = '2030-01-01T00:00:02.000Z';
const NOW = Date.UTC(2030, 0, 1, 0, 0, 5);
const EXPIRES = Math.floor(NOW / 1000) + 3600;

const update = (overrides: Partial<JobUpdateDetail> = {}): JobUpdateDetail => ({
  jobId: 'J1',
  userId: 'alice',
  status: 'running',
  timestamp: T1,
  ...overrides,
});

const state = (overrides: Partial<JobState> = {}): JobState => ({
  jobId: 'J1',
  userId: 'alice',
  status: 'running',
  timestamp: T1,
  offset: 3,
  lastEventId: 'evt-3',
  updatedAt: NOW - 1000,
  expiresAt: EXPIRES,
  ...overrides,
});

describe('decideJobUpdate', () => {
  it('applies the first event of a job', () => {
    expect(decideJobUpdate(undefined, update(), 'evt-1')).toBe('apply');
  });

  it('recognises the last applied event id as a retry', () => {
    expect(decideJobUpdate(state({ lastEventId: 'evt-3' }), update(), 'evt-3')).toBe('already-applied');
  });

  it('recognises a retry of the last event even when it made the job terminal', () => {
    expect(decideJobUpdate(state({ status: 'completed', lastEventId: 'evt-3' }), update({ status: 'completed' }), 'evt-3')).toBe(
      'already-applied',
    );
  });

  it('refuses an event naming another user than the owner', () => {
    expect(decideJobUpdate(state(), update({ userId: 'mallory', timestamp: T2 }), 'evt-4')).toBe('owner-mismatch');
  });

  it('refuses an event naming another user even on a terminal job', () => {
    expect(decideJobUpdate(state({ status: 'failed' }), update({ userId: 'mallory', timestamp: T2 }), 'evt-4')).toBe(
      'owner-mismatch',
    );
  });

  it.each<JobStatus>(['completed', 'failed', 'cancelled'])('keeps a %s job final', (status) => {
    expect(decideJobUpdate(state({ status }), update({ status: 'running', timestamp: T2 }), 'evt-4')).toBe('terminal');
  });

  it.each<JobStatus>(['queued', 'running'])('keeps updating a %s job', (status) => {
    expect(decideJobUpdate(state({ status }), update({ timestamp: T2 }), 'evt-4')).toBe('apply');
  });

  describe('by timestamp', () => {
    it('drops a strictly older update as stale', () => {
      expect(decideJobUpdate(state({ timestamp: T1 }), update({ timestamp: T0 }), 'evt-4')).toBe('stale');
    });

    it('applies an update with an equal timestamp (arrival order)', () => {
      expect(decideJobUpdate(state({ timestamp: T1 }), update({ timestamp: T1 }), 'evt-4')).toBe('apply');
    });

    it('applies a newer update', () => {
      expect(decideJobUpdate(state({ timestamp: T1 }), update({ timestamp: T2 }), 'evt-4')).toBe('apply');
    });

    it('compares instants, not strings, across time zone offsets', () => {
      // Prepare: 01:00+01:00 is 00:00Z, so 00:30Z is half an hour newer although it sorts lower as text.
      const current = state({ timestamp: '2030-01-01T01:00:00+01:00' });
      // Act / Assess
      expect(decideJobUpdate(current, update({ timestamp: '2030-01-01T00:30:00Z' }), 'evt-4')).toBe('apply');
      expect(decideJobUpdate(current, update({ timestamp: '2029-12-31T23:59:59Z' }), 'evt-4')).toBe('stale');
    });
  });

  describe('by sequence', () => {
    it('drops a lower sequence as stale even with a newer timestamp', () => {
      expect(decideJobUpdate(state({ sequence: 5, timestamp: T0 }), update({ sequence: 4, timestamp: T2 }), 'evt-4')).toBe('stale');
    });

    it('applies a higher sequence even with an older timestamp', () => {
      expect(decideJobUpdate(state({ sequence: 5, timestamp: T2 }), update({ sequence: 6, timestamp: T0 }), 'evt-4')).toBe('apply');
    });

    it('applies an equal sequence (arrival order)', () => {
      expect(decideJobUpdate(state({ sequence: 5, timestamp: T2 }), update({ sequence: 5, timestamp: T0 }), 'evt-4')).toBe('apply');
    });

    it('falls back to the timestamp when only the update carries a sequence', () => {
      expect(decideJobUpdate(state({ timestamp: T2 }), update({ sequence: 9, timestamp: T0 }), 'evt-4')).toBe('stale');
    });

    it('falls back to the timestamp when only the state carries a sequence', () => {
      expect(decideJobUpdate(state({ sequence: 9, timestamp: T2 }), update({ timestamp: T0 }), 'evt-4')).toBe('stale');
      expect(decideJobUpdate(state({ sequence: 9, timestamp: T0 }), update({ timestamp: T2 }), 'evt-4')).toBe('apply');
    });
  });
});

describe('nextJobState', () => {
  it('starts a job at offset 1 owned by the event\'s user', () => {
    // Act
    const next = nextJobState(
      undefined,
      update({ status: 'queued', progress: 0, message: 'Queued', sequence: 1, timestamp: T0 }),
      'evt-1',
      NOW,
      EXPIRES,
    );
    // Assess
    expect(next).toStrictEqual<JobState>({
      jobId: 'J1',
      userId: 'alice',
      status: 'queued',
      progress: 0,
      message: 'Queued',
      timestamp: T0,
      sequence: 1,
      offset: 1,
      lastEventId: 'evt-1',
      updatedAt: NOW,
      expiresAt: EXPIRES,
    });
  });

  it('takes the next offset and records the event id, time and expiry', () => {
    const next = nextJobState(state({ offset: 3 }), update({ timestamp: T2 }), 'evt-4', NOW, EXPIRES + 10);
    expect(next).toMatchObject({ offset: 4, lastEventId: 'evt-4', updatedAt: NOW, expiresAt: EXPIRES + 10, timestamp: T2 });
  });

  it('keeps the owner fixed by the first event', () => {
    const next = nextJobState(state({ userId: 'alice' }), update({ userId: 'someone-else' }), 'evt-4', NOW, EXPIRES);
    expect(next.userId).toBe('alice');
  });

  it('clears optional fields that the update does not carry', () => {
    // Prepare
    const current = state({ progress: 50, message: 'Halfway', error: { code: 'E', message: 'old' } });
    // Act
    const next = nextJobState(current, update({ status: 'running', timestamp: T2 }), 'evt-4', NOW, EXPIRES);
    // Assess
    expect(next).not.toHaveProperty('progress');
    expect(next).not.toHaveProperty('message');
    expect(next).not.toHaveProperty('error');
  });

  it('carries the error of a failed update', () => {
    const next = nextJobState(state(), update({ status: 'failed', error: { code: 'OOM', message: 'Out of memory' } }), 'evt-4', NOW, EXPIRES);
    expect(next).toMatchObject({ status: 'failed', error: { code: 'OOM', message: 'Out of memory' } });
  });

  it('keeps the last known sequence when the update carries none', () => {
    expect(nextJobState(state({ sequence: 7 }), update(), 'evt-4', NOW, EXPIRES).sequence).toBe(7);
  });

  it('takes the update\'s sequence when it carries one', () => {
    expect(nextJobState(state({ sequence: 7 }), update({ sequence: 8 }), 'evt-4', NOW, EXPIRES).sequence).toBe(8);
  });

  it('has no sequence when neither side carries one', () => {
    expect(nextJobState(state(), update(), 'evt-4', NOW, EXPIRES)).not.toHaveProperty('sequence');
  });

  it('does not modify the current state', () => {
    const current = state({ progress: 10 });
    const before = structuredClone(current);
    nextJobState(current, update({ progress: 90, timestamp: T2 }), 'evt-4', NOW, EXPIRES);
    expect(current).toStrictEqual(before);
  });
});

describe('jobUpdateData', () => {
  it('is the wire form of the state, without owner, offset, sequence or bookkeeping', () => {
    // Prepare
    const current = state({ status: 'failed', progress: 40, message: 'Rendering', error: { code: 'E1', message: 'Boom' }, sequence: 4 });
    // Act / Assess
    expect(jobUpdateData(current)).toStrictEqual({
      type: 'job.update',
      jobId: 'J1',
      status: 'failed',
      progress: 40,
      message: 'Rendering',
      error: { code: 'E1', message: 'Boom' },
      timestamp: T1,
    });
  });

  it('leaves out absent optional fields instead of sending them as undefined', () => {
    const data = jobUpdateData(state());
    expect(Object.keys(data).sort()).toStrictEqual(['jobId', 'status', 'timestamp', 'type']);
  });

  it('keeps a progress of 0 and an empty message', () => {
    expect(jobUpdateData(state({ progress: 0, message: '' }))).toMatchObject({ progress: 0, message: '' });
  });
});
