/**
 * The SubscriptionStore contract: every adapter must pass it (see subscription-store.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ChannelStore, Clock, Subscription, SubscriptionStore } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

/** `channels` shares the subscriptions' storage, to show channel heads are never listed. */
export type SubscriptionStoreFactory = (options: { clock: Clock }) => {
  subscriptions: SubscriptionStore;
  channels: ChannelStore;
};

const MAX = 100;

export function describeSubscriptionStoreContract(name: string, factory: SubscriptionStoreFactory): void {
  function setup() {
    const clock = new FakeClock();
    const { subscriptions: store, channels } = factory({ clock });
    const subscription = (overrides: Partial<Subscription> = {}): Subscription => ({
      connectionId: uniqueId('conn'),
      channel: `docs.${uniqueId('doc')}`,
      userId: uniqueId('user'),
      subscribedAt: clock.now(),
      expiresAt: clock.inSeconds(3600),
      ...overrides,
    });
    /** Adds many subscriptions, a few at a time. */
    const addAll = async (subs: Subscription[], max = MAX): Promise<void> => {
      for (let i = 0; i < subs.length; i += 50) {
        const outcomes = await Promise.all(subs.slice(i, i + 50).map((s) => store.add(s, max)));
        expect(outcomes.every((o) => o === 'added')).toBe(true);
      }
    };
    /** Every subscriber of a channel, following cursors; also returns the page sizes. */
    const listAll = async (channel: string, limit: number) => {
      const items: Subscription[] = [];
      const pageSizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listByChannel(channel, { limit, ...(cursor === undefined ? {} : { cursor }) });
        items.push(...page.items);
        pageSizes.push(page.items.length);
        cursor = page.cursor;
      } while (cursor !== undefined && pageSizes.length < 100);
      return { items, pageSizes };
    };
    return { clock, store, channels, subscription, addAll, listAll };
  }

  describe(`SubscriptionStore (${name})`, () => {
    describe('add', () => {
      it('adds a new subscription, visible from the connection and from the channel', async () => {
        // Prepare
        const { store, subscription } = setup();
        const sub = subscription();
        // Act
        const outcome = await store.add(sub, MAX);
        // Assess
        expect(outcome).toBe('added');
        expect(await store.listByConnection(sub.connectionId)).toStrictEqual([sub]);
        expect((await store.listByChannel(sub.channel, { limit: 10 })).items).toStrictEqual([sub]);
      });

      it('answers exists for a live subscription to the same channel and keeps the first one', async () => {
        // Prepare
        const { clock, store, subscription } = setup();
        const first = subscription();
        await store.add(first, MAX);
        // Act
        const outcome = await store.add({ ...first, subscribedAt: clock.now() + 5 }, MAX);
        // Assess
        expect(outcome).toBe('exists');
        expect(await store.listByConnection(first.connectionId)).toStrictEqual([first]);
      });

      it('replaces an expired subscription to the same channel', async () => {
        // Prepare
        const { clock, store, subscription } = setup();
        const old = subscription({ expiresAt: clock.inSeconds(60) });
        await store.add(old, MAX);
        clock.advanceSeconds(61);
        const renewed = { ...old, subscribedAt: clock.now(), expiresAt: clock.inSeconds(3600) };
        // Act
        const outcome = await store.add(renewed, MAX);
        // Assess
        expect(outcome).toBe('added');
        expect(await store.listByConnection(old.connectionId)).toStrictEqual([renewed]);
        expect((await store.listByChannel(old.channel, { limit: 10 })).items).toStrictEqual([renewed]);
      });

      it('refuses the 101st subscription of a connection', async () => {
        // Prepare
        const { store, subscription, addAll } = setup();
        const connectionId = uniqueId('conn');
        await addAll(Array.from({ length: MAX }, () => subscription({ connectionId })));
        const extra = subscription({ connectionId });
        // Act
        const outcome = await store.add(extra, MAX);
        // Assess
        expect(outcome).toBe('limit');
        const mine = await store.listByConnection(connectionId);
        expect(mine).toHaveLength(MAX);
        expect(mine.map((s) => s.channel)).not.toContain(extra.channel);
        expect((await store.listByChannel(extra.channel, { limit: 10 })).items).toStrictEqual([]);
      });

      it('has room again once a subscription of a full connection is removed', async () => {
        // Prepare
        const { store, subscription } = setup();
        const connectionId = uniqueId('conn');
        const a = subscription({ connectionId });
        const b = subscription({ connectionId });
        const c = subscription({ connectionId });
        await store.add(a, 2);
        await store.add(b, 2);
        expect(await store.add(c, 2)).toBe('limit');
        // Act
        await store.remove(connectionId, a.channel);
        const outcome = await store.add(c, 2);
        // Assess
        expect(outcome).toBe('added');
        expect((await store.listByConnection(connectionId)).map((s) => s.channel).sort()).toStrictEqual(
          [b.channel, c.channel].sort(),
        );
      });

      it('does not count expired subscriptions toward the limit', async () => {
        // Prepare
        const { clock, store, subscription } = setup();
        const connectionId = uniqueId('conn');
        await store.add(subscription({ connectionId, expiresAt: clock.inSeconds(60) }), 2);
        await store.add(subscription({ connectionId, expiresAt: clock.inSeconds(60) }), 2);
        clock.advanceSeconds(61);
        // Act
        const outcomes = [
          await store.add(subscription({ connectionId }), 2),
          await store.add(subscription({ connectionId }), 2),
          await store.add(subscription({ connectionId }), 2),
        ];
        // Assess
        expect(outcomes).toStrictEqual(['added', 'added', 'limit']);
        expect(await store.listByConnection(connectionId)).toHaveLength(2);
      });

      it('counts a renewed expired subscription once', async () => {
        // Prepare
        const { clock, store, subscription } = setup();
        const connectionId = uniqueId('conn');
        const old = subscription({ connectionId, expiresAt: clock.inSeconds(60) });
        await store.add(old, 2);
        clock.advanceSeconds(61);
        await store.add({ ...old, expiresAt: clock.inSeconds(3600) }, 2);
        // Act
        const outcomes = [
          await store.add(subscription({ connectionId }), 2),
          await store.add(subscription({ connectionId }), 2),
        ];
        // Assess
        expect(outcomes).toStrictEqual(['added', 'limit']);
      });

      it('never lets concurrent adds exceed the limit', async () => {
        // Prepare
        const { store, subscription } = setup();
        const connectionId = uniqueId('conn');
        const subs = Array.from({ length: 10 }, () => subscription({ connectionId }));
        // Act
        const outcomes = await Promise.all(subs.map((s) => store.add(s, 5)));
        // Assess
        expect(outcomes.filter((o) => o === 'added')).toHaveLength(5);
        expect(outcomes.filter((o) => o === 'limit')).toHaveLength(5);
        const kept = subs.filter((_, i) => outcomes[i] === 'added').map((s) => s.channel);
        expect((await store.listByConnection(connectionId)).map((s) => s.channel).sort()).toStrictEqual(kept.sort());
      });

      it('limits each connection separately', async () => {
        const { store, subscription } = setup();
        const channel = `docs.${uniqueId('doc')}`;
        const first = subscription({ channel });
        await store.add(first, 1);
        expect(await store.add(subscription({ connectionId: first.connectionId }), 1)).toBe('limit');
        expect(await store.add(subscription({ channel }), 1)).toBe('added');
      });
    });

    describe('remove', () => {
      it('returns true and removes the subscription from both views', async () => {
        // Prepare
        const { store, subscription } = setup();
        const sub = subscription();
        await store.add(sub, MAX);
        // Act
        const removed = await store.remove(sub.connectionId, sub.channel);
        // Assess
        expect(removed).toBe(true);
        expect(await store.listByConnection(sub.connectionId)).toStrictEqual([]);
        expect((await store.listByChannel(sub.channel, { limit: 10 })).items).toStrictEqual([]);
      });

      it('returns false when there was no such subscription', async () => {
        const { store } = setup();
        expect(await store.remove(uniqueId('conn'), `docs.${uniqueId('doc')}`)).toBe(false);
      });

      it('returns false the second time', async () => {
        const { store, subscription } = setup();
        const sub = subscription();
        await store.add(sub, MAX);
        await store.remove(sub.connectionId, sub.channel);
        expect(await store.remove(sub.connectionId, sub.channel)).toBe(false);
      });

      it('returns false for an expired subscription and still leaves room for a new one', async () => {
        // Prepare
        const { clock, store, subscription } = setup();
        const connectionId = uniqueId('conn');
        const old = subscription({ connectionId, expiresAt: clock.inSeconds(60) });
        await store.add(old, 1);
        clock.advanceSeconds(61);
        // Act
        const removed = await store.remove(connectionId, old.channel);
        // Assess
        expect(removed).toBe(false);
        expect(await store.add(subscription({ connectionId }), 1)).toBe('added');
        expect(await store.add(subscription({ connectionId }), 1)).toBe('limit');
      });
    });

    describe('listByChannel', () => {
      it('lists only the live subscribers of that channel', async () => {
        // Prepare
        const { clock, store, subscription } = setup();
        const channel = `docs.${uniqueId('doc')}`;
        const staying = subscription({ channel });
        const expiring = subscription({ channel, expiresAt: clock.inSeconds(60) });
        const elsewhere = subscription();
        for (const s of [staying, expiring, elsewhere]) await store.add(s, MAX);
        clock.advanceSeconds(60);
        // Act
        const page = await store.listByChannel(channel, { limit: 10 });
        // Assess
        expect(page.items).toStrictEqual([staying]);
        expect(page.cursor).toBeUndefined();
      });

      it('returns an empty page without a cursor for a channel nobody follows', async () => {
        const { store } = setup();
        expect(await store.listByChannel(`docs.${uniqueId('doc')}`, { limit: 10 })).toStrictEqual({ items: [] });
      });

      it('pages through 250 live subscribers, each exactly once, skipping expired ones', async () => {
        // Prepare
        const { clock, store, subscription, addAll, listAll } = setup();
        const channel = `docs.${uniqueId('doc')}`;
        const live = Array.from({ length: 250 }, () => subscription({ channel }));
        const expiring = Array.from({ length: 30 }, () => subscription({ channel, expiresAt: clock.inSeconds(60) }));
        await addAll([...live, ...expiring]);
        clock.advanceSeconds(60);
        // Act
        const { items, pageSizes } = await listAll(channel, 100);
        // Assess
        expect(pageSizes.length).toBeGreaterThanOrEqual(3);
        expect(pageSizes.every((n) => n <= 100)).toBe(true);
        const ids = items.map((s) => s.connectionId);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toStrictEqual(live.map((s) => s.connectionId).sort());
      });

      it('never lists the channel head', async () => {
        // Prepare
        const { clock, store, channels, subscription } = setup();
        const jobId = uniqueId('job');
        const jobChannel = `jobs.${jobId}`;
        const docChannel = `docs.${uniqueId('doc')}`;
        const jobSub = subscription({ channel: jobChannel });
        const docSub = subscription({ channel: docChannel });
        await store.add(jobSub, MAX);
        await store.add(docSub, MAX);
        await channels.applyJobUpdate(
          { jobId, userId: jobSub.userId, status: 'running', timestamp: new Date(clock.now()).toISOString() },
          uniqueId('evt'),
          clock.inSeconds(3600),
        );
        await channels.advance(docChannel, uniqueId('evt'), clock.inSeconds(3600));
        // Act
        const jobPage = await store.listByChannel(jobChannel, { limit: 10 });
        const docPage = await store.listByChannel(docChannel, { limit: 10 });
        // Assess
        expect(jobPage.items).toStrictEqual([jobSub]);
        expect(docPage.items).toStrictEqual([docSub]);
      });
    });

    describe('listByConnection', () => {
      it('lists the live subscriptions of that connection only', async () => {
        // Prepare
        const { clock, store, subscription } = setup();
        const connectionId = uniqueId('conn');
        const a = subscription({ connectionId });
        const b = subscription({ connectionId });
        const expiring = subscription({ connectionId, expiresAt: clock.inSeconds(60) });
        const other = subscription({ channel: a.channel });
        for (const s of [a, b, expiring, other]) await store.add(s, MAX);
        clock.advanceSeconds(60);
        // Act
        const mine = await store.listByConnection(connectionId);
        // Assess
        const byChannel = (x: Subscription, y: Subscription) => (x.channel < y.channel ? -1 : 1);
        expect([...mine].sort(byChannel)).toStrictEqual([a, b].sort(byChannel));
      });

      it('returns an empty list for an unknown connection', async () => {
        const { store } = setup();
        expect(await store.listByConnection(uniqueId('conn'))).toStrictEqual([]);
      });
    });

    describe('removeConnection', () => {
      it('removes every subscription of the connection and returns its live channels', async () => {
        // Prepare
        const { clock, store, subscription, addAll, listAll } = setup();
        const connectionId = uniqueId('conn');
        const mine = Array.from({ length: 30 }, () => subscription({ connectionId }));
        const expiring = subscription({ connectionId, expiresAt: clock.inSeconds(60) });
        const neighbour = subscription({ channel: mine[0]?.channel ?? '' });
        await addAll([...mine, expiring, neighbour]);
        clock.advanceSeconds(60);
        // Act
        const channels = await store.removeConnection(connectionId);
        // Assess
        expect([...channels].sort()).toStrictEqual(mine.map((s) => s.channel).sort());
        expect(await store.listByConnection(connectionId)).toStrictEqual([]);
        for (const channel of [...channels, expiring.channel]) {
          const { items } = await listAll(channel, 100);
          expect(items.map((s) => s.connectionId)).not.toContain(connectionId);
        }
        expect((await listAll(neighbour.channel, 100)).items).toStrictEqual([neighbour]);
      });

      it('resets the limit of the connection', async () => {
        // Prepare
        const { store, subscription } = setup();
        const connectionId = uniqueId('conn');
        await store.add(subscription({ connectionId }), 2);
        await store.add(subscription({ connectionId }), 2);
        // Act
        await store.removeConnection(connectionId);
        // Assess
        expect(await store.add(subscription({ connectionId }), 2)).toBe('added');
        expect(await store.add(subscription({ connectionId }), 2)).toBe('added');
        expect(await store.add(subscription({ connectionId }), 2)).toBe('limit');
      });

      it('returns no channels for an unknown connection', async () => {
        const { store } = setup();
        expect(await store.removeConnection(uniqueId('conn'))).toStrictEqual([]);
      });
    });
  });
}
