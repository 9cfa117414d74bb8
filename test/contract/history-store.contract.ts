/**
 * The HistoryStore contract: every adapter must pass it (see history-store.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ChannelMessage } from '../../functions/domain/messages.ts';
import type { Clock, HistoryStore } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type HistoryStoreFactory = (options: { clock: Clock }) => HistoryStore;

export function describeHistoryStoreContract(name: string, factory: HistoryStoreFactory): void {
  function setup() {
    const clock = new FakeClock();
    const store = factory({ clock });
    const channel = `user.${uniqueId('user')}`;
    const message = (offset: number): ChannelMessage => ({
      event: 'notification',
      channel,
      offset,
      data: { type: 'mention', text: `message ${String(offset)}`, nested: { seen: false, tags: ['a', 'b'] } },
    });
    /** Appends the given offsets, in that order, with one expiry. */
    const appendAll = async (offsets: number[], expiresAt = clock.inSeconds(3600)) => {
      for (const offset of offsets) await store.append(channel, message(offset), expiresAt);
    };
    const offsetsOf = (messages: ChannelMessage[]) => messages.map((m) => m.offset);
    return { clock, store, channel, message, appendAll, offsetsOf };
  }

  describe(`HistoryStore (${name})`, () => {
    describe('readAfter', () => {
      it('returns the messages after an offset in ascending order, whatever the append order', async () => {
        // Prepare
        const { store, channel, appendAll, offsetsOf } = setup();
        await appendAll([3, 1, 5, 2, 4]);
        // Act
        const messages = await store.readAfter(channel, 2, 10);
        // Assess
        expect(offsetsOf(messages)).toStrictEqual([3, 4, 5]);
      });

      it('returns every message after offset 0', async () => {
        const { store, channel, appendAll, offsetsOf } = setup();
        await appendAll([1, 2, 3]);
        expect(offsetsOf(await store.readAfter(channel, 0, 10))).toStrictEqual([1, 2, 3]);
      });

      it('returns the messages as appended', async () => {
        const { store, channel, message } = setup();
        const jobMessage: ChannelMessage = {
          event: 'job:update',
          channel,
          offset: 1,
          data: {
            type: 'job.update',
            jobId: 'j1',
            status: 'failed',
            error: { code: 'E', message: 'boom' },
            timestamp: '2030-01-01T00:00:00Z',
          },
        };
        await store.append(channel, jobMessage, 4_000_000_000);
        await store.append(channel, message(2), 4_000_000_000);
        expect(await store.readAfter(channel, 0, 10)).toStrictEqual([jobMessage, message(2)]);
      });

      it('returns at most limit messages, the oldest first', async () => {
        const { store, channel, appendAll, offsetsOf } = setup();
        await appendAll([1, 2, 3, 4, 5, 6]);
        expect(offsetsOf(await store.readAfter(channel, 1, 3))).toStrictEqual([2, 3, 4]);
      });

      it('orders offsets numerically past 9 and beyond', async () => {
        const { store, channel, appendAll, offsetsOf } = setup();
        await appendAll([9, 10, 11, 100, 1000]);
        expect(offsetsOf(await store.readAfter(channel, 9, 10))).toStrictEqual([10, 11, 100, 1000]);
      });

      it('returns nothing after the last offset, and nothing for an unknown channel', async () => {
        const { store, channel, appendAll } = setup();
        await appendAll([1, 2]);
        expect(await store.readAfter(channel, 2, 10)).toStrictEqual([]);
        expect(await store.readAfter(`user.${uniqueId('user')}`, 0, 10)).toStrictEqual([]);
      });

      it('skips expired messages and still fills the limit with live ones', async () => {
        // Prepare
        const { clock, store, channel, appendAll, offsetsOf } = setup();
        await appendAll([1, 2, 3], clock.inSeconds(60));
        await appendAll([4, 5, 6], clock.inSeconds(3600));
        clock.advanceSeconds(60);
        // Act
        const messages = await store.readAfter(channel, 0, 2);
        // Assess
        expect(offsetsOf(messages)).toStrictEqual([4, 5]);
      });

      it('keeps channels apart', async () => {
        const { store, channel, appendAll } = setup();
        const other = setup();
        await appendAll([1, 2]);
        await other.appendAll([1]);
        expect(await store.readAfter(channel, 0, 10)).toHaveLength(2);
      });
    });

    describe('append', () => {
      it('replaces the message at the same offset', async () => {
        // Prepare
        const { store, channel, message } = setup();
        await store.append(channel, message(1), 4_000_000_000);
        const replacement: ChannelMessage = {
          event: 'notification',
          channel,
          offset: 1,
          data: { type: 'mention', text: 'edited' },
        };
        // Act
        await store.append(channel, replacement, 4_000_000_000);
        // Assess
        expect(await store.readAfter(channel, 0, 10)).toStrictEqual([replacement]);
      });
    });
  });
}
