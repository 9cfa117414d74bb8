/**
 * The PresenceStore contract: every engine must pass it (see presence-store.test.ts). Time is
 * a FakeClock; document, connection and user ids are unique per test, so engines may share
 * one Redis.
 */
import { describe, expect, it } from 'vitest';
import type { Clock, PresenceConnection, PresenceStore } from '../../functions/domain/ports.ts';
import { PRESENCE_PALETTE, pickColor, preferredColorIndex } from '../../functions/domain/presence-types.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type PresenceStoreFactory = (options: { clock: Clock; timeoutMs: number }) => PresenceStore;

const TIMEOUT_MS = 30_000;

export function describePresenceStoreContract(name: string, factory: PresenceStoreFactory): void {
  function setup() {
    const clock = new FakeClock();
    const store = factory({ clock, timeoutMs: TIMEOUT_MS });
    const doc = (): string => uniqueId('doc');
    /** A connection of a new user, or another tab of `userId`. */
    const connection = (overrides: Partial<PresenceConnection> = {}): PresenceConnection => ({
      connectionId: uniqueId('conn'),
      userId: uniqueId('user'),
      name: 'Ada Lovelace',
      ...overrides,
    });
    const iso = (): string => new Date(clock.now()).toISOString();
    const advance = (ms: number): void => {
      clock.nowMs += ms;
    };
    const userIds = async (documentId: string): Promise<string[]> =>
      (await store.members(documentId)).map((m) => m.userId).sort();
    return { clock, store, doc, connection, iso, advance, userIds };
  }

  describe(`PresenceStore (${name})`, () => {
    describe('join', () => {
      it('creates a member with name, avatar, color and lastSeen, and reports the join', async () => {
        const { store, doc, connection, iso } = setup();
        const documentId = doc();
        const ada = connection({ avatar: 'https://example.test/ada.png' });
        const result = await store.join(documentId, ada);
        const member = {
          userId: ada.userId,
          name: 'Ada Lovelace',
          avatar: 'https://example.test/ada.png',
          color: pickColor(ada.userId, new Set()),
          lastSeen: iso(),
        };
        expect(result).toStrictEqual({ member, joined: true, members: [member], expired: [] });
        expect(await store.members(documentId)).toStrictEqual([member]);
      });

      it('creates a member without an avatar when there is none', async () => {
        const { store, doc, connection } = setup();
        const { member } = await store.join(doc(), connection());
        expect(member).not.toHaveProperty('avatar');
        expect(PRESENCE_PALETTE).toContain(member.color);
      });

      it('keeps names with quotes, slashes, unicode and newlines intact', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const name = 'Zoë "Z" O\'Brien / 李 \\ 😀\nline';
        const { member } = await store.join(documentId, connection({ name, avatar: 'https://x.test/a?b=1&c=/d' }));
        expect(member.name).toBe(name);
        expect(member.avatar).toBe('https://x.test/a?b=1&c=/d');
        expect((await store.members(documentId))[0]?.name).toBe(name);
      });

      it('includes the members already there in the snapshot', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        const bob = connection({ name: 'Bob' });
        const first = await store.join(documentId, ada);
        const second = await store.join(documentId, bob);
        expect(second.joined).toBe(true);
        expect(second.members.map((m) => m.userId).sort()).toStrictEqual([ada.userId, bob.userId].sort());
        expect(second.members.find((m) => m.userId === ada.userId)).toStrictEqual(first.member);
      });

      it('treats a second tab of the same user as the same member (joined=false, same color)', async () => {
        const { store, doc, connection, advance, iso } = setup();
        const documentId = doc();
        const tab1 = connection();
        const first = await store.join(documentId, tab1);
        advance(1_000);
        const second = await store.join(documentId, connection({ userId: tab1.userId }));
        expect(second.joined).toBe(false);
        expect(second.member).toStrictEqual({ ...first.member, lastSeen: iso() });
        expect(second.members).toStrictEqual([second.member]);
      });

      it('is idempotent for a connection that joins the same document twice', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        const again = await store.join(documentId, ada);
        expect(again.joined).toBe(false);
        const { left } = await store.leave(documentId, ada.connectionId);
        expect(left).toStrictEqual({ documentId, userId: ada.userId });
      });

      it('moves a connection that joins again as another user, reporting the previous user leaving', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        const bob = connection();
        await store.join(documentId, ada);
        const result = await store.join(documentId, { ...bob, connectionId: ada.connectionId });
        expect(result.joined).toBe(true);
        expect(result.expired).toStrictEqual([{ documentId, userId: ada.userId }]);
        expect(result.members.map((m) => m.userId)).toStrictEqual([bob.userId]);
        expect((await store.leave(documentId, ada.connectionId)).left).toStrictEqual({ documentId, userId: bob.userId });
      });

      it('gives distinct colors to the 16 first users of a document, then shares', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const colors: string[] = [];
        for (let i = 0; i < PRESENCE_PALETTE.length; i++) colors.push((await store.join(documentId, connection())).member.color);
        expect(new Set(colors).size).toBe(PRESENCE_PALETTE.length);
        // The palette is exhausted: the 17th user gets their preferred color.
        const extra = connection();
        const { member } = await store.join(documentId, extra);
        expect(member.color).toBe(PRESENCE_PALETTE[preferredColorIndex(extra.userId)]);
      });

      it('walks the palette from the preferred color past the colors taken', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        // Another user with the same preferred color.
        let other = connection();
        while (preferredColorIndex(other.userId) !== preferredColorIndex(ada.userId)) other = connection();
        const first = await store.join(documentId, ada);
        const second = await store.join(documentId, other);
        expect(first.member.color).toBe(PRESENCE_PALETTE[preferredColorIndex(ada.userId)]);
        expect(second.member.color).toBe(pickColor(other.userId, new Set([first.member.color])));
        expect(second.member.color).not.toBe(first.member.color);
      });

      it('is deterministic: a user alone in two documents gets the same color', async () => {
        const { store, doc, connection } = setup();
        const ada = connection();
        const a = await store.join(doc(), ada);
        const b = await store.join(doc(), connection({ userId: ada.userId }));
        expect(b.member.color).toBe(a.member.color);
        expect(a.member.color).toBe(pickColor(ada.userId, new Set()));
      });

      it('gives 10 concurrent joins of different users 10 distinct colors', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const joins = await Promise.all(Array.from({ length: 10 }, () => store.join(documentId, connection())));
        expect(new Set(joins.map((j) => j.member.color)).size).toBe(10);
        expect(joins.every((j) => j.joined)).toBe(true);
        const members = await store.members(documentId);
        expect(members).toHaveLength(10);
        expect(new Set(members.map((m) => m.color)).size).toBe(10);
      });

      it('lets a member keep their color after the member who had it first left', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        const bob = connection();
        const adaColor = (await store.join(documentId, ada)).member.color;
        const bobColor = (await store.join(documentId, bob)).member.color;
        await store.leave(documentId, ada.connectionId);
        const again = await store.join(documentId, connection({ userId: bob.userId }));
        expect(again.member.color).toBe(bobColor);
        expect(adaColor).not.toBe(bobColor);
      });
    });

    describe('update', () => {
      it('patches the cursor and the selection and moves lastSeen', async () => {
        const { store, doc, connection, advance, iso } = setup();
        const documentId = doc();
        const ada = connection();
        const { member } = await store.join(documentId, ada);
        advance(2_000);
        const cursor = await store.update(documentId, ada.connectionId, { cursor: { x: 10, y: 20.5 } });
        expect(cursor).toStrictEqual({ member: { ...member, cursor: { x: 10, y: 20.5 }, lastSeen: iso() }, expired: [] });
        advance(1_000);
        const selection = { slideId: 's1', elementId: 'e1', range: { start: 2, end: 5 } };
        const both = await store.update(documentId, ada.connectionId, { selection });
        expect(both?.member).toStrictEqual({ ...member, cursor: { x: 10, y: 20.5 }, selection, lastSeen: iso() });
        expect(await store.members(documentId)).toStrictEqual([both?.member]);
      });

      it('keeps numbers exactly (no rounding on the way)', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        const cursor = { x: 1 / 3, y: -1234567.891011121 };
        const result = await store.update(documentId, ada.connectionId, { cursor });
        expect(result?.member.cursor).toStrictEqual(cursor);
        expect((await store.members(documentId))[0]?.cursor).toStrictEqual(cursor);
      });

      it('clears with null and leaves untouched what the patch does not name', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        await store.update(documentId, ada.connectionId, { cursor: { x: 1, y: 2 }, selection: { slideId: 's1' } });
        const cleared = await store.update(documentId, ada.connectionId, { cursor: null });
        expect(cleared?.member).not.toHaveProperty('cursor');
        expect(cleared?.member.selection).toStrictEqual({ slideId: 's1' });
        const both = await store.update(documentId, ada.connectionId, { selection: null });
        expect(both?.member).not.toHaveProperty('cursor');
        expect(both?.member).not.toHaveProperty('selection');
      });

      it('updates the member shared by both tabs of a user', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const tab1 = connection();
        const tab2 = connection({ userId: tab1.userId });
        await store.join(documentId, tab1);
        await store.join(documentId, tab2);
        await store.update(documentId, tab2.connectionId, { cursor: { x: 3, y: 4 } });
        expect(await store.members(documentId)).toMatchObject([{ userId: tab1.userId, cursor: { x: 3, y: 4 } }]);
      });

      it('returns undefined for a connection that is not in the document', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        expect(await store.update(documentId, uniqueId('conn'), { cursor: { x: 1, y: 1 } })).toBeUndefined();
        expect(await store.update(doc(), ada.connectionId, { cursor: { x: 1, y: 1 } })).toBeUndefined();
        expect(await store.update(uniqueId('doc'), uniqueId('conn'), {})).toBeUndefined();
      });

      it('returns undefined after the connection left', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        await store.leave(documentId, ada.connectionId);
        expect(await store.update(documentId, ada.connectionId, { cursor: { x: 1, y: 1 } })).toBeUndefined();
      });
    });

    describe('leave', () => {
      it('keeps the member while another tab is in, and reports the last tab leaving', async () => {
        const { store, doc, connection, userIds } = setup();
        const documentId = doc();
        const tab1 = connection();
        const tab2 = connection({ userId: tab1.userId });
        const bob = connection();
        await store.join(documentId, tab1);
        await store.join(documentId, tab2);
        await store.join(documentId, bob);
        expect(await store.leave(documentId, tab1.connectionId)).toStrictEqual({ left: undefined, expired: [] });
        expect(await userIds(documentId)).toStrictEqual([tab1.userId, bob.userId].sort());
        expect(await store.leave(documentId, tab2.connectionId)).toStrictEqual({
          left: { documentId, userId: tab1.userId },
          expired: [],
        });
        expect(await userIds(documentId)).toStrictEqual([bob.userId]);
      });

      it('is a no-op for a connection that is not in the document', async () => {
        const { store, doc, connection, userIds } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        expect(await store.leave(documentId, uniqueId('conn'))).toStrictEqual({ left: undefined, expired: [] });
        expect(await store.leave(doc(), ada.connectionId)).toStrictEqual({ left: undefined, expired: [] });
        expect(await userIds(documentId)).toStrictEqual([ada.userId]);
      });

      it('reports a leave once: leaving again reports nothing', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        expect((await store.leave(documentId, ada.connectionId)).left).toBeDefined();
        expect(await store.leave(documentId, ada.connectionId)).toStrictEqual({ left: undefined, expired: [] });
        expect(await store.members(documentId)).toStrictEqual([]);
      });

      it('lets a connection join again after leaving', async () => {
        const { store, doc, connection } = setup();
        const documentId = doc();
        const ada = connection();
        const first = await store.join(documentId, ada);
        await store.leave(documentId, ada.connectionId);
        const again = await store.join(documentId, ada);
        expect(again.joined).toBe(true);
        expect(again.member.color).toBe(first.member.color);
      });
    });

    describe('leaveAll', () => {
      it('leaves every document of the connection', async () => {
        const { store, doc, connection, userIds } = setup();
        const [d1, d2, d3] = [doc(), doc(), doc()] as [string, string, string];
        const ada = connection();
        const adaOtherTab = connection({ userId: ada.userId });
        const bob = connection();
        for (const d of [d1, d2, d3]) await store.join(d, ada);
        await store.join(d2, adaOtherTab);
        await store.join(d3, bob);
        const result = await store.leaveAll(ada.connectionId);
        expect(result.expired).toStrictEqual([]);
        expect(sortDepartures(result.left)).toStrictEqual(
          sortDepartures([
            { documentId: d1, userId: ada.userId },
            { documentId: d3, userId: ada.userId },
          ]),
        );
        expect(await userIds(d1)).toStrictEqual([]);
        expect(await userIds(d2)).toStrictEqual([ada.userId]);
        expect(await userIds(d3)).toStrictEqual([bob.userId]);
        expect((await store.touch(ada.connectionId)).documentIds).toStrictEqual([]);
        expect(await store.leaveAll(ada.connectionId)).toStrictEqual({ left: [], expired: [] });
      });

      it('does not list a document the connection left on its own', async () => {
        const { store, doc, connection } = setup();
        const [d1, d2] = [doc(), doc()] as [string, string];
        const ada = connection();
        await store.join(d1, ada);
        await store.join(d2, ada);
        await store.leave(d1, ada.connectionId);
        const result = await store.leaveAll(ada.connectionId);
        expect(result.left).toStrictEqual([{ documentId: d2, userId: ada.userId }]);
      });

      it('is a no-op for an unknown connection', async () => {
        const { store } = setup();
        expect(await store.leaveAll(uniqueId('conn'))).toStrictEqual({ left: [], expired: [] });
      });
    });

    describe('expiry', () => {
      /** Ada and Bob join; Ada goes silent, Bob keeps talking; the clock ends just past Ada's timeout. */
      async function silentAda() {
        const ctx = setup();
        const { store, doc, connection, advance } = ctx;
        const documentId = doc();
        const ada = connection();
        const bob = connection({ name: 'Bob' });
        await store.join(documentId, ada);
        await store.join(documentId, bob);
        advance(TIMEOUT_MS - 1_000);
        expect((await store.touch(bob.connectionId)).expired).toStrictEqual([]);
        advance(2_000);
        return { ...ctx, documentId, ada, bob };
      }

      const mutations: [string, (ctx: Awaited<ReturnType<typeof silentAda>>) => Promise<{ expired: unknown[] }>][] = [
        ['join', ({ store, documentId, connection }) => store.join(documentId, connection())],
        [
          'update',
          async ({ store, documentId, bob }) => {
            const result = await store.update(documentId, bob.connectionId, { cursor: { x: 1, y: 1 } });
            if (!result) throw new Error('Bob should still be in');
            return result;
          },
        ],
        ['touch', ({ store, bob }) => store.touch(bob.connectionId)],
        ['leave', ({ store, documentId, bob }) => store.leave(documentId, bob.connectionId)],
        ['leaveAll', ({ store, bob }) => store.leaveAll(bob.connectionId)],
      ];

      for (const [kind, mutate] of mutations) {
        it(`reports a silent member exactly once, in the next ${kind} in the document`, async () => {
          const ctx = await silentAda();
          const { store, documentId, ada, connection } = ctx;
          expect((await mutate(ctx)).expired).toStrictEqual([{ documentId, userId: ada.userId }]);
          // Reported once: the next call in the document finds nothing more.
          expect((await store.join(documentId, connection())).expired).toStrictEqual([]);
          expect((await store.members(documentId)).map((m) => m.userId)).not.toContain(ada.userId);
        });
      }

      it('keeps a connection alive until exactly timeoutMs of silence', async () => {
        const { store, doc, connection, advance, userIds } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        advance(TIMEOUT_MS);
        expect(await userIds(documentId)).toStrictEqual([ada.userId]);
        const bob = connection();
        expect((await store.join(documentId, bob)).expired).toStrictEqual([]);
        advance(1);
        expect((await store.touch(bob.connectionId)).expired).toStrictEqual([{ documentId, userId: ada.userId }]);
      });

      it('keeps a user with one live and one silent tab, and drops only the silent tab', async () => {
        const { store, doc, connection, advance, userIds } = setup();
        const documentId = doc();
        const silentTab = connection();
        const liveTab = connection({ userId: silentTab.userId });
        await store.join(documentId, silentTab);
        await store.join(documentId, liveTab);
        advance(TIMEOUT_MS - 1_000);
        await store.touch(liveTab.connectionId);
        advance(2_000);
        expect((await store.join(documentId, connection())).expired).toStrictEqual([]);
        expect(await userIds(documentId)).toContain(silentTab.userId);
        // The silent tab is gone: it cannot update, and the live tab is now the last one.
        expect(await store.update(documentId, silentTab.connectionId, { cursor: { x: 0, y: 0 } })).toBeUndefined();
        expect((await store.leave(documentId, liveTab.connectionId)).left).toStrictEqual({
          documentId,
          userId: silentTab.userId,
        });
      });

      it('reports several members expiring together', async () => {
        const { store, doc, connection, advance } = setup();
        const documentId = doc();
        const silent = [connection(), connection(), connection()];
        for (const c of silent) await store.join(documentId, c);
        advance(TIMEOUT_MS + 1);
        const { expired, members } = await store.join(documentId, connection());
        expect(sortDepartures(expired)).toStrictEqual(
          sortDepartures(silent.map((c) => ({ documentId, userId: c.userId }))),
        );
        expect(members).toHaveLength(1);
      });

      it('members() leaves expired members out without losing their expiry notice', async () => {
        const { store, documentId, ada, bob, userIds } = await silentAda();
        expect(await userIds(documentId)).toStrictEqual([bob.userId]);
        expect(await userIds(documentId)).toStrictEqual([bob.userId]);
        expect((await store.touch(bob.connectionId)).expired).toStrictEqual([{ documentId, userId: ada.userId }]);
      });

      it('an update from an expired connection changes nothing and loses no notice', async () => {
        const { store, documentId, ada, bob } = await silentAda();
        expect(await store.update(documentId, ada.connectionId, { cursor: { x: 5, y: 5 } })).toBeUndefined();
        expect((await store.touch(bob.connectionId)).expired).toStrictEqual([{ documentId, userId: ada.userId }]);
      });

      it('a connection that expired from every member of a document leaves nobody behind', async () => {
        const { store, doc, connection, advance } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        advance(TIMEOUT_MS + 1);
        expect(await store.members(documentId)).toStrictEqual([]);
        // Its own heartbeat comes too late: the sweep reports it and it is no longer in.
        expect(await store.touch(ada.connectionId)).toStrictEqual({
          documentIds: [],
          expired: [{ documentId, userId: ada.userId }],
        });
        expect(await store.touch(ada.connectionId)).toStrictEqual({ documentIds: [], expired: [] });
      });
    });

    describe('touch', () => {
      it('keeps a connection alive past the timeout and returns its documents', async () => {
        const { store, doc, connection, advance, iso, userIds } = setup();
        const [d1, d2] = [doc(), doc()] as [string, string];
        const ada = connection();
        await store.join(d1, ada);
        await store.join(d2, ada);
        for (let i = 0; i < 4; i++) {
          advance(TIMEOUT_MS / 2);
          expect(await store.touch(ada.connectionId)).toStrictEqual({ documentIds: [d1, d2].sort(), expired: [] });
        }
        advance(TIMEOUT_MS); // exactly the timeout since the last touch: still alive
        expect((await store.join(d1, connection())).expired).toStrictEqual([]);
        expect(await userIds(d2)).toStrictEqual([ada.userId]);
        expect((await store.members(d2))[0]?.lastSeen).toBe(new Date(Date.parse(iso()) - TIMEOUT_MS).toISOString());
      });

      it('moves the member lastSeen', async () => {
        const { store, doc, connection, advance, iso } = setup();
        const documentId = doc();
        const ada = connection();
        await store.join(documentId, ada);
        advance(5_000);
        await store.touch(ada.connectionId);
        expect((await store.members(documentId))[0]?.lastSeen).toBe(iso());
      });

      it('returns nothing for an unknown connection', async () => {
        const { store } = setup();
        expect(await store.touch(uniqueId('conn'))).toStrictEqual({ documentIds: [], expired: [] });
      });
    });

    describe('ping', () => {
      it('resolves when the engine is reachable', async () => {
        const { store } = setup();
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}

export function sortDepartures<T extends { documentId: string; userId: string }>(departures: T[]): T[] {
  const key = (d: T): string => `${d.documentId}\u0000${d.userId}`;
  return [...departures].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
