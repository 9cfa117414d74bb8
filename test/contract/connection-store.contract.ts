/**
 * The ConnectionStore contract: every adapter must pass it (see connection-store.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Clock, ConnectionRecord, ConnectionStore } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type ConnectionStoreFactory = (options: { clock: Clock }) => ConnectionStore;

export function describeConnectionStoreContract(name: string, factory: ConnectionStoreFactory): void {
  function setup() {
    const clock = new FakeClock();
    const store = factory({ clock });
    const connection = (overrides: Partial<ConnectionRecord> = {}): ConnectionRecord => ({
      connectionId: uniqueId('conn'),
      userId: uniqueId('user'),
      connectedAt: clock.now(),
      expiresAt: clock.inSeconds(3600),
      ...overrides,
    });
    return { clock, store, connection };
  }

  describe(`ConnectionStore (${name})`, () => {
    describe('put and get', () => {
      it('returns the stored record with every field', async () => {
        // Prepare
        const { store, connection } = setup();
        const record = connection({
          name: 'Ada',
          picture: 'https://example.test/a.png',
          sourceIp: '203.0.113.9',
          userAgent: 'vitest',
        });
        // Act
        await store.put(record);
        const read = await store.get(record.connectionId);
        // Assess
        expect(read).toStrictEqual(record);
      });

      it('returns a record without the optional fields as stored', async () => {
        const { store, connection } = setup();
        const record = connection();
        await store.put(record);
        expect(await store.get(record.connectionId)).toStrictEqual(record);
      });

      it('returns undefined for an unknown connection', async () => {
        const { store } = setup();
        expect(await store.get(uniqueId('missing'))).toBeUndefined();
      });

      it('replaces the record on a second put', async () => {
        const { store, connection } = setup();
        const first = connection({ name: 'first' });
        await store.put(first);
        const second = { ...first, name: 'second' };
        await store.put(second);
        expect(await store.get(first.connectionId)).toStrictEqual(second);
      });
    });

    describe('expiry', () => {
      it('treats a record whose expiresAt has passed as absent', async () => {
        const { clock, store, connection } = setup();
        const record = connection({ expiresAt: clock.inSeconds(60) });
        await store.put(record);
        clock.advanceSeconds(60);
        expect(await store.get(record.connectionId)).toBeUndefined();
      });

      it('still returns a record one second before it expires', async () => {
        const { clock, store, connection } = setup();
        const record = connection({ expiresAt: clock.inSeconds(60) });
        await store.put(record);
        clock.advanceSeconds(59);
        expect(await store.get(record.connectionId)).toStrictEqual(record);
      });
    });

    describe('delete', () => {
      it('removes the record', async () => {
        const { store, connection } = setup();
        const record = connection();
        await store.put(record);
        await store.delete(record.connectionId);
        expect(await store.get(record.connectionId)).toBeUndefined();
      });

      it('is a no-op for an unknown connection', async () => {
        const { store } = setup();
        await expect(store.delete(uniqueId('missing'))).resolves.toBeUndefined();
      });
    });
  });
}
