/**
 * The ChannelStore contract: every adapter must pass it (see channel-store.test.ts). The job
 * rules are those of decideJobUpdate/nextJobState in functions/domain/jobs.ts.
 */
import { describe, expect, it } from 'vitest';
import type { JobUpdateDetail } from '../../functions/domain/messages.ts';
import type { ChannelStore, Clock, JobState } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type ChannelStoreFactory = (options: { clock: Clock }) => ChannelStore;

const T0 = '2030-01-01T00:00:00.000Z';
const at = (seconds: number): string => new Date(Date.parse(T0) + seconds * 1000).toISOString();

export function describeChannelStoreContract(name: string, factory: ChannelStoreFactory): void {
  function setup() {
    const clock = new FakeClock();
    const store = factory({ clock });
    const jobId = uniqueId('job');
    const userId = uniqueId('user');
    const update = (overrides: Partial<JobUpdateDetail> = {}): JobUpdateDetail => ({
      jobId,
      userId,
      status: 'running',
      timestamp: T0,
      ...overrides,
    });
    const expiresAt = clock.inSeconds(3600);
    /** Applies an update with a fresh event id and returns the outcome. */
    const apply = (overrides: Partial<JobUpdateDetail> = {}, eventId = uniqueId('evt')) =>
      store.applyJobUpdate(update(overrides), eventId, expiresAt);
    return { clock, store, jobId, userId, update, apply, expiresAt };
  }

  describe(`ChannelStore (${name})`, () => {
    describe('applyJobUpdate', () => {
      it('applies the first event of a job at offset 1 and fixes its owner', async () => {
        // Prepare
        const { clock, store, jobId, userId, update, expiresAt } = setup();
        const eventId = uniqueId('evt');
        // Act
        const outcome = await store.applyJobUpdate(update({ progress: 10, message: 'warming up' }), eventId, expiresAt);
        // Assess
        const expected: JobState = {
          jobId,
          userId,
          status: 'running',
          progress: 10,
          message: 'warming up',
          timestamp: T0,
          offset: 1,
          lastEventId: eventId,
          updatedAt: clock.now(),
          expiresAt,
        };
        expect(outcome).toStrictEqual({ kind: 'applied', state: expected });
        expect(await store.getJob(jobId)).toStrictEqual(expected);
      });

      it('gives consecutive offsets to consecutive updates', async () => {
        const { apply } = setup();
        const offsets = [];
        for (let i = 0; i < 4; i++) offsets.push((await apply({ timestamp: at(i), progress: i * 10 })).state.offset);
        expect(offsets).toStrictEqual([1, 2, 3, 4]);
      });

      it('answers stale for an older timestamp and leaves the state untouched', async () => {
        // Prepare
        const { store, jobId, apply } = setup();
        const current = await apply({ timestamp: at(10), progress: 50 });
        // Act
        const outcome = await apply({ timestamp: at(5), progress: 20 });
        // Assess
        expect(outcome).toStrictEqual({ kind: 'stale', state: current.state });
        expect(await store.getJob(jobId)).toStrictEqual(current.state);
      });

      it('applies an update with an equal timestamp', async () => {
        const { apply } = setup();
        await apply({ timestamp: at(10), progress: 50 });
        const outcome = await apply({ timestamp: at(10), progress: 60 });
        expect(outcome.kind).toBe('applied');
        expect(outcome.state).toMatchObject({ progress: 60, offset: 2 });
      });

      it('compares timestamps as instants, whatever their UTC offset', async () => {
        // Prepare: 10:00+02:00 is 08:00Z, so 09:00Z is later although it sorts lower as a string.
        const { apply } = setup();
        await apply({ timestamp: '2030-01-01T10:00:00+02:00' });
        // Act
        const later = await apply({ timestamp: '2030-01-01T09:00:00Z', progress: 70 });
        const earlier = await apply({ timestamp: '2030-01-01T07:59:59Z', progress: 10 });
        // Assess
        expect(later.kind).toBe('applied');
        expect(earlier.kind).toBe('stale');
      });

      it('keeps a terminal status final', async () => {
        // Prepare
        const { store, jobId, apply } = setup();
        const done = await apply({ status: 'completed', timestamp: at(10), progress: 100 });
        // Act
        const outcome = await apply({ status: 'running', timestamp: at(20), progress: 10 });
        // Assess
        expect(outcome).toStrictEqual({ kind: 'terminal', state: done.state });
        expect(await store.getJob(jobId)).toStrictEqual(done.state);
      });

      it('orders by sequence rather than timestamp when both carry one', async () => {
        // Prepare
        const { apply } = setup();
        await apply({ sequence: 5, timestamp: at(10) });
        // Act
        const higherButOlder = await apply({ sequence: 6, timestamp: at(0), progress: 60 });
        const lowerButNewer = await apply({ sequence: 4, timestamp: at(30), progress: 40 });
        const equal = await apply({ sequence: 6, timestamp: at(0), progress: 65 });
        // Assess
        expect(higherButOlder.kind).toBe('applied');
        expect(lowerButNewer).toStrictEqual({ kind: 'stale', state: higherButOlder.state });
        expect(equal.kind).toBe('applied');
        expect(equal.state).toMatchObject({ sequence: 6, progress: 65, offset: 3 });
      });

      it('falls back to the timestamp when only the update carries a sequence', async () => {
        const { apply } = setup();
        await apply({ timestamp: at(10) });
        expect((await apply({ sequence: 9, timestamp: at(5) })).kind).toBe('stale');
        const outcome = await apply({ sequence: 1, timestamp: at(10) });
        expect(outcome.kind).toBe('applied');
        expect(outcome.state.sequence).toBe(1);
      });

      it('keeps the known sequence when an update carries none', async () => {
        // Prepare
        const { apply } = setup();
        await apply({ sequence: 5, timestamp: at(0) });
        // Act
        const withoutSequence = await apply({ timestamp: at(10), progress: 30 });
        const lowerSequence = await apply({ sequence: 4, timestamp: at(20) });
        // Assess
        expect(withoutSequence.kind).toBe('applied');
        expect(withoutSequence.state.sequence).toBe(5);
        expect(lowerSequence.kind).toBe('stale');
      });

      it('answers already-applied with the same offset for the last event id', async () => {
        // Prepare
        const { store, jobId, apply } = setup();
        const eventId = uniqueId('evt');
        await apply({ timestamp: at(0) });
        const first = await apply({ timestamp: at(10), progress: 50 }, eventId);
        // Act
        const retry = await apply({ timestamp: at(10), progress: 50 }, eventId);
        // Assess
        expect(retry).toStrictEqual({ kind: 'already-applied', state: first.state });
        expect(retry.state.offset).toBe(2);
        expect(await store.getJob(jobId)).toStrictEqual(first.state);
      });

      it('answers already-applied for a retried terminal event', async () => {
        const { apply } = setup();
        const eventId = uniqueId('evt');
        const done = await apply({ status: 'failed', error: { code: 'E_OOM', message: 'out of memory' } }, eventId);
        const retry = await apply({ status: 'failed', error: { code: 'E_OOM', message: 'out of memory' } }, eventId);
        expect(retry).toStrictEqual({ kind: 'already-applied', state: done.state });
      });

      it("refuses another user's event as owner-mismatch and leaves the state untouched", async () => {
        // Prepare
        const { store, jobId, apply } = setup();
        const owned = await apply({ timestamp: at(0), progress: 10 });
        // Act
        const outcome = await apply({ userId: uniqueId('intruder'), timestamp: at(10), progress: 99 });
        // Assess
        expect(outcome).toStrictEqual({ kind: 'owner-mismatch', state: owned.state });
        expect(await store.getJob(jobId)).toStrictEqual(owned.state);
      });

      it('clears progress, message and error when the update lacks them', async () => {
        // Prepare
        const { store, jobId, apply } = setup();
        await apply({ timestamp: at(0), progress: 40, message: 'halfway', error: { code: 'W', message: 'slow disk' } });
        // Act
        const outcome = await apply({ timestamp: at(10), status: 'queued' });
        // Assess
        expect(outcome.kind).toBe('applied');
        const state = await store.getJob(jobId);
        expect(state).toStrictEqual(outcome.state);
        expect(state).not.toHaveProperty('progress');
        expect(state).not.toHaveProperty('message');
        expect(state).not.toHaveProperty('error');
        expect(state?.status).toBe('queued');
      });

      it('stores the error of a failed job', async () => {
        const { store, jobId, apply } = setup();
        await apply({ status: 'failed', error: { code: 'E_TIMEOUT', message: 'took too long' } });
        expect((await store.getJob(jobId))?.error).toStrictEqual({ code: 'E_TIMEOUT', message: 'took too long' });
      });

      it('starts an expired job over at offset 1, as a new job', async () => {
        // Prepare
        const { clock, store, jobId, update } = setup();
        await store.applyJobUpdate(update({ status: 'completed', sequence: 9 }), uniqueId('evt'), clock.inSeconds(60));
        clock.advanceSeconds(60);
        const newOwner = uniqueId('user');
        const eventId = uniqueId('evt');
        // Act
        const outcome = await store.applyJobUpdate(
          update({ userId: newOwner, timestamp: at(-10), progress: 5 }),
          eventId,
          clock.inSeconds(3600),
        );
        // Assess
        const expected: JobState = {
          jobId,
          userId: newOwner,
          status: 'running',
          progress: 5,
          timestamp: at(-10),
          offset: 1,
          lastEventId: eventId,
          updatedAt: clock.now(),
          expiresAt: clock.inSeconds(3600),
        };
        expect(outcome).toStrictEqual({ kind: 'applied', state: expected });
        expect(await store.getJob(jobId)).toStrictEqual(expected);
        const next = await store.applyJobUpdate(
          update({ userId: newOwner, timestamp: at(0) }),
          uniqueId('evt'),
          clock.inSeconds(3600),
        );
        expect(next.state.offset).toBe(2);
      });

      it('gives distinct consecutive offsets to concurrent updates', async () => {
        // Prepare
        const { store, jobId, apply } = setup();
        // Act
        const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => apply({ progress: i })));
        // Assess
        expect(outcomes.every((o) => o.kind === 'applied')).toBe(true);
        expect(outcomes.map((o) => o.state.offset).sort((a, b) => a - b)).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect((await store.getJob(jobId))?.offset).toBe(8);
      });

      it('keeps jobs apart', async () => {
        const { apply } = setup();
        const other = setup();
        await apply();
        await apply({ timestamp: at(1) });
        expect((await other.apply()).state.offset).toBe(1);
      });
    });

    describe('getJob', () => {
      it('returns undefined for an unknown job', async () => {
        const { store } = setup();
        expect(await store.getJob(uniqueId('job'))).toBeUndefined();
      });

      it('returns undefined once the job has expired', async () => {
        const { clock, store, jobId, update } = setup();
        await store.applyJobUpdate(update(), uniqueId('evt'), clock.inSeconds(60));
        clock.advanceSeconds(60);
        expect(await store.getJob(jobId)).toBeUndefined();
      });
    });

    describe('heads', () => {
      it('reads the heads of several channels at once: offsets, and for jobs the state', async () => {
        // Prepare
        const { store, update, expiresAt, jobId, userId } = setup();
        const user = `user.${uniqueId('u')}`;
        await store.applyJobUpdate(update(), 'e1', expiresAt);
        await store.applyJobUpdate(update({ progress: 50, timestamp: '2030-01-01T00:00:01.000Z' }), 'e2', expiresAt);
        await store.advance(user, 'n1', expiresAt);
        // Act
        const heads = await store.heads([`jobs.${jobId}`, user, `user.${uniqueId('nobody')}`]);
        // Assess
        expect([...heads.keys()].sort()).toEqual([`jobs.${jobId}`, user].sort());
        expect(heads.get(`jobs.${jobId}`)).toMatchObject({ channel: `jobs.${jobId}`, offset: 2, job: { jobId, userId, progress: 50, offset: 2 } });
        expect(heads.get(user)).toEqual({ channel: user, offset: 1 });
      });

      it('leaves out expired heads', async () => {
        const { store, clock } = setup();
        const user = `user.${uniqueId('u')}`;
        await store.advance(user, 'n1', clock.inSeconds(10));
        clock.advanceSeconds(11);
        expect((await store.heads([user])).size).toBe(0);
      });

      it('answers an empty map for no channels', async () => {
        const { store } = setup();
        expect((await store.heads([])).size).toBe(0);
      });
    });

    describe('advance', () => {
      it('gives a new channel offset 1 and then consecutive offsets', async () => {
        // Prepare
        const { clock, store } = setup();
        const channel = `user.${uniqueId('user')}`;
        // Act
        const results = [];
        for (let i = 0; i < 3; i++) results.push(await store.advance(channel, uniqueId('evt'), clock.inSeconds(3600)));
        // Assess
        expect(results).toStrictEqual([
          { offset: 1, alreadyApplied: false },
          { offset: 2, alreadyApplied: false },
          { offset: 3, alreadyApplied: false },
        ]);
      });

      it('is idempotent on the last event id', async () => {
        // Prepare
        const { clock, store } = setup();
        const channel = `user.${uniqueId('user')}`;
        const eventId = uniqueId('evt');
        await store.advance(channel, uniqueId('evt'), clock.inSeconds(3600));
        await store.advance(channel, eventId, clock.inSeconds(3600));
        // Act
        const retry = await store.advance(channel, eventId, clock.inSeconds(3600));
        const next = await store.advance(channel, uniqueId('evt'), clock.inSeconds(3600));
        // Assess
        expect(retry).toStrictEqual({ offset: 2, alreadyApplied: true });
        expect(next).toStrictEqual({ offset: 3, alreadyApplied: false });
      });

      it('starts an expired channel over at offset 1', async () => {
        // Prepare
        const { clock, store } = setup();
        const channel = `user.${uniqueId('user')}`;
        const eventId = uniqueId('evt');
        await store.advance(channel, uniqueId('evt'), clock.inSeconds(60));
        await store.advance(channel, eventId, clock.inSeconds(60));
        clock.advanceSeconds(60);
        // Act
        const replayed = await store.advance(channel, eventId, clock.inSeconds(3600));
        const next = await store.advance(channel, uniqueId('evt'), clock.inSeconds(3600));
        // Assess
        expect(replayed).toStrictEqual({ offset: 1, alreadyApplied: false });
        expect(next).toStrictEqual({ offset: 2, alreadyApplied: false });
      });

      it('gives distinct consecutive offsets to concurrent events', async () => {
        const { clock, store } = setup();
        const channel = `user.${uniqueId('user')}`;
        const results = await Promise.all(
          Array.from({ length: 8 }, () => store.advance(channel, uniqueId('evt'), clock.inSeconds(3600))),
        );
        expect(results.map((r) => r.offset).sort((a, b) => a - b)).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect(results.every((r) => !r.alreadyApplied)).toBe(true);
      });

      it('keeps channels apart', async () => {
        const { clock, store } = setup();
        const a = `user.${uniqueId('user')}`;
        const b = `user.${uniqueId('user')}`;
        await store.advance(a, uniqueId('evt'), clock.inSeconds(3600));
        await store.advance(a, uniqueId('evt'), clock.inSeconds(3600));
        const first = await store.advance(b, uniqueId('evt'), clock.inSeconds(3600));
        expect(first).toStrictEqual({ offset: 1, alreadyApplied: false });
      });
    });
  });
}
