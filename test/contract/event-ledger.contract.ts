/**
 * The EventLedger contract: every adapter must pass it (see event-ledger.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Clock, EventLedger } from '../../functions/domain/ports.ts';
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
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toBe('claimed');
      });

      it('answers busy while another claim holds the lease', async () => {
        // Prepare
        const { clock, ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        clock.nowMs += LEASE_MS; // the last millisecond of the lease
        // Act
        const outcome = await ledger.claim(eventId, LEASE_MS, expiresAt);
        // Assess
        expect(outcome).toBe('busy');
      });

      it('claims again once the lease has run out', async () => {
        // Prepare
        const { clock, ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        clock.nowMs += LEASE_MS + 1;
        // Act
        const outcome = await ledger.claim(eventId, LEASE_MS, expiresAt);
        // Assess
        expect(outcome).toBe('claimed');
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toBe('busy');
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
        expect(outcome).toBe('done');
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
        expect(outcome).toBe('claimed');
      });

      it('lets exactly one of many concurrent claims win', async () => {
        const { ledger, eventId, expiresAt } = setup();
        const outcomes = await Promise.all(Array.from({ length: 8 }, () => ledger.claim(eventId, LEASE_MS, expiresAt)));
        expect(outcomes.filter((o) => o === 'claimed')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'busy')).toHaveLength(7);
      });

      it('keeps events apart', async () => {
        const { ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        expect(await ledger.claim(uniqueId('evt'), LEASE_MS, expiresAt)).toBe('claimed');
      });
    });

    describe('complete', () => {
      it('marks an event done even without a claim', async () => {
        const { ledger, eventId, expiresAt } = setup();
        await ledger.complete(eventId, expiresAt);
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toBe('done');
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
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toBe('claimed');
      });

      it('never forgets a completed event', async () => {
        const { ledger, eventId, expiresAt } = setup();
        await ledger.claim(eventId, LEASE_MS, expiresAt);
        await ledger.complete(eventId, expiresAt);
        await ledger.release(eventId);
        expect(await ledger.claim(eventId, LEASE_MS, expiresAt)).toBe('done');
      });

      it('is a no-op for an unknown event', async () => {
        const { ledger } = setup();
        await expect(ledger.release(uniqueId('evt'))).resolves.toBeUndefined();
      });
    });
  });
}
