/**
 * The EventLedger contract: every adapter must pass it (see event-ledger.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { AssignedEvent, Clock, EventLedger } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type EventLedgerFactory = (options: { clock: Clock }) => EventLedger;

const LEASE_MS = 30_000;

export function describeEventLedgerContract(name: string, factory: EventLedgerFactory): void {
  function setup() {
    const clock = new FakeClock();
    const ledger = factory({ clock });
    const eventId = uniqueId('evt');
    const expiresAt = clock.inSeconds(86_400);
    return { clock, ledger, eventId, expiresAt };
  }

  describe(`EventLedger (${name})`, () => {
    describe('claim', () => {
      it('claims an event seen for the first time', async () => {
        const { ledger, eventId, expiresAt } = setup();
        expect((await ledger.claim(eventId, LEASE_MS, expiresAt)).status).toBe('claimed');
      });

      it('answers busy while another claim holds the lease', async () => {
        // Prepare
        const { clock, ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        clock.nowMs += LEASE_MS; // the last millisecond of the lease
        // Act
        const outcome = await ledger.claim(eventId, LEASE_MS, expiresAt);
        // Assess
        expect(outcome.status).toBe('busy');
      });

      it('claims again once the lease has run out', async () => {
        // Prepare
        const { clock, ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        clock.nowMs += LEASE_MS + 1;
        // Act
        const outcome = await ledger.claim(eventId, LEASE_MS, expiresAt);
        // Assess
        expect(outcome.status).toBe('claimed');
        expect((await ledger.claim(eventId, LEASE_MS, expiresAt)).status).toBe('busy');
      });

      it('answers done for a completed event, long after its lease', async () => {
        // Prepare
        const { clock, ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        await ledger.complete(eventId, expiresAt);
        clock.nowMs += 10 * LEASE_MS;
        // Act
        const outcome = await ledger.claim(eventId, LEASE_MS, expiresAt);
        // Assess
        expect(outcome.status).toBe('done');
      });

      it('claims a completed event again once its entry has expired', async () => {
        // Prepare
        const { clock, ledger, eventId } = setup();
        await ledger.claim(eventId, LEASE_MS, clock.inSeconds(60));
        await ledger.complete(eventId, clock.inSeconds(60));
        clock.advanceSeconds(60);
        // Act
        const outcome = await ledger.claim(eventId, LEASE_MS, clock.inSeconds(3600));
        // Assess
        expect(outcome.status).toBe('claimed');
      });

      it('lets exactly one of many concurrent claims win', async () => {
        const { ledger, eventId, expiresAt } = setup();
        const outcomes = await Promise.all(Array.from({ length: 8 }, () => ledger.claim(eventId, LEASE_MS, expiresAt)));
        expect(outcomes.filter((o) => o.status === 'claimed')).toHaveLength(1);
        expect(outcomes.filter((o) => o.status === 'busy')).toHaveLength(7);
      });

      it('keeps events apart', async () => {
        const { ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        expect((await ledger.claim(uniqueId('evt'), LEASE_MS, expiresAt)).status).toBe('claimed');
      });
    });

    describe('complete', () => {
      it('marks an event done even without a claim', async () => {
        const { ledger, eventId, expiresAt } = setup();
        await ledger.complete(eventId, expiresAt);
        expect((await ledger.claim(eventId, LEASE_MS, expiresAt)).status).toBe('done');
      });
    });

    describe('release', () => {
      it('gives up a claim so the event can be claimed again at once', async () => {
        // Prepare
        const { ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        // Act
        await ledger.release(eventId);
        // Assess
        expect((await ledger.claim(eventId, LEASE_MS, expiresAt)).status).toBe('claimed');
      });

      it('never forgets a completed event', async () => {
        const { ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        await ledger.complete(eventId, expiresAt);
        await ledger.release(eventId);
        expect((await ledger.claim(eventId, LEASE_MS, expiresAt)).status).toBe('done');
      });

      it('is a no-op for an unknown event', async () => {
        const { ledger } = setup();
        await expect(ledger.release(uniqueId('evt'))).resolves.toBeUndefined();
      });
    });

    describe('assign', () => {
      const assigned = (offset: number): AssignedEvent => ({
        message: {
          event: 'job:update',
          channel: 'jobs.J1',
          offset,
          data: { type: 'job.update', jobId: 'J1', status: 'running', progress: 40, timestamp: '2026-11-26T10:00:00.000Z' },
        },
        owner: 'alice',
        publishedAt: '2026-11-26T10:00:00.000Z',
      });

      it('hands what the event became to the next claim after a release', async () => {
        // Prepare: an attempt applied the event, recorded it, then failed
        const { ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        await ledger.assign(eventId, assigned(7));
        await ledger.release(eventId);
        // Act
        const outcome = await ledger.claim(eventId, LEASE_MS, expiresAt);
        // Assess
        expect(outcome).toEqual({ status: 'claimed', assigned: assigned(7) });
      });

      it('hands it over after a lease ran out too (the invocation died)', async () => {
        const { clock, ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        await ledger.assign(eventId, assigned(3));
        clock.nowMs += LEASE_MS + 1;
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toEqual({ status: 'claimed', assigned: assigned(3) });
      });

      it('is forgotten once the event is done', async () => {
        const { ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        await ledger.assign(eventId, assigned(1));
        await ledger.complete(eventId, expiresAt);
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toEqual({ status: 'done' });
      });

      it('is not resumed from an entry that has expired', async () => {
        const { clock, ledger, eventId } = setup();
        await ledger.claim(eventId, LEASE_MS, clock.inSeconds(60));
        await ledger.assign(eventId, assigned(1));
        clock.advanceSeconds(61);
        expect(await ledger.claim(eventId, LEASE_MS, clock.inSeconds(3600))).toEqual({ status: 'claimed' });
        await ledger.release(eventId);
        expect(await ledger.claim(eventId, LEASE_MS, clock.inSeconds(3600))).toEqual({ status: 'claimed' });
      });

      it('a first claim has nothing assigned', async () => {
        const { ledger, eventId, expiresAt } = setup();
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toEqual({ status: 'claimed' });
      });
    });
  });
}
