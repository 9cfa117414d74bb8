/**
 * The DocumentRoleStore contract: every adapter must pass it (see document-role-store.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { DOCUMENT_ROLES } from '../../functions/domain/authorization.ts';
import type { Clock, DocumentRoleStore } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { uniqueId } from '../support/ids.ts';

export type DocumentRoleStoreFactory = (options: { clock: Clock }) => DocumentRoleStore;

const DAY_SECONDS = 24 * 60 * 60;
const TOMBSTONE_DAYS = 30;

export function describeDocumentRoleStoreContract(name: string, factory: DocumentRoleStoreFactory): void {
  function setup() {
    const clock = new FakeClock();
    const store = factory({ clock });
    return { clock, store, documentId: uniqueId('doc'), userId: uniqueId('user') };
  }

  describe(`DocumentRoleStore (${name})`, () => {
    describe('roleOf', () => {
      it('returns undefined for an unknown document and user', async () => {
        const { store, documentId, userId } = setup();
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
      });
    });

    describe('grant, change and revoke', () => {
      it.each(DOCUMENT_ROLES)('grants the %s role', async (role) => {
        // Prepare
        const { clock, store, documentId, userId } = setup();
        // Act
        const applied = await store.setRole(documentId, userId, role, clock.now());
        // Assess
        expect(applied).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBe(role);
      });

      it('changes a role with a later change', async () => {
        const { clock, store, documentId, userId } = setup();
        await store.setRole(documentId, userId, 'viewer', clock.now());
        expect(await store.setRole(documentId, userId, 'editor', clock.now() + 1000)).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBe('editor');
      });

      it('revokes a role: roleOf is undefined afterwards', async () => {
        const { clock, store, documentId, userId } = setup();
        await store.setRole(documentId, userId, 'owner', clock.now());
        expect(await store.setRole(documentId, userId, null, clock.now() + 1000)).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
      });

      it('grants again after a revocation with a later change', async () => {
        const { clock, store, documentId, userId } = setup();
        await store.setRole(documentId, userId, 'editor', clock.now());
        await store.setRole(documentId, userId, null, clock.now() + 1000);
        expect(await store.setRole(documentId, userId, 'commenter', clock.now() + 2000)).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBe('commenter');
      });

      it('applies a revocation of a user that never had a role', async () => {
        const { clock, store, documentId, userId } = setup();
        expect(await store.setRole(documentId, userId, null, clock.now())).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
      });

      it('keeps a live role however much time passes', async () => {
        const { clock, store, documentId, userId } = setup();
        await store.setRole(documentId, userId, 'viewer', clock.now());
        clock.advanceSeconds(365 * DAY_SECONDS);
        expect(await store.roleOf(documentId, userId)).toBe('viewer');
      });
    });

    describe('ordering by changedAt', () => {
      it('does not apply an older grant after a newer revocation', async () => {
        // Prepare
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        await store.setRole(documentId, userId, 'editor', t);
        await store.setRole(documentId, userId, null, t + 2000);
        // Act: the grant of t + 1000 arrives late
        const applied = await store.setRole(documentId, userId, 'owner', t + 1000);
        // Assess
        expect(applied).toBe(false);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
      });

      it('does not apply an older grant after a revocation with no earlier grant', async () => {
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        await store.setRole(documentId, userId, null, t + 1000);
        expect(await store.setRole(documentId, userId, 'viewer', t)).toBe(false);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
      });

      it('does not apply an older revocation after a newer grant', async () => {
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        await store.setRole(documentId, userId, 'commenter', t + 2000);
        expect(await store.setRole(documentId, userId, null, t + 1000)).toBe(false);
        expect(await store.roleOf(documentId, userId)).toBe('commenter');
      });

      it('does not apply an older role change after a newer one', async () => {
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        await store.setRole(documentId, userId, 'viewer', t + 2000);
        expect(await store.setRole(documentId, userId, 'owner', t + 1000)).toBe(false);
        expect(await store.roleOf(documentId, userId)).toBe('viewer');
      });

      it('applies a change with an equal changedAt (the later arrival wins)', async () => {
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        await store.setRole(documentId, userId, 'viewer', t);
        expect(await store.setRole(documentId, userId, 'editor', t)).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBe('editor');
        expect(await store.setRole(documentId, userId, null, t)).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
        expect(await store.setRole(documentId, userId, 'owner', t)).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBe('owner');
      });
    });

    describe('independence', () => {
      it('keeps users of one document independent', async () => {
        const { clock, store, documentId, userId } = setup();
        const other = uniqueId('user');
        await store.setRole(documentId, userId, 'owner', clock.now());
        await store.setRole(documentId, other, 'viewer', clock.now());
        await store.setRole(documentId, userId, null, clock.now() + 1000);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
        expect(await store.roleOf(documentId, other)).toBe('viewer');
        // The other user's older change is judged against their own item only.
        expect(await store.setRole(documentId, other, 'editor', clock.now() + 500)).toBe(true);
        expect(await store.roleOf(documentId, other)).toBe('editor');
      });

      it('keeps documents of one user independent', async () => {
        const { clock, store, documentId, userId } = setup();
        const otherDocument = uniqueId('doc');
        await store.setRole(documentId, userId, 'editor', clock.now());
        await store.setRole(otherDocument, userId, 'commenter', clock.now());
        await store.setRole(documentId, userId, null, clock.now() + 1000);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
        expect(await store.roleOf(otherDocument, userId)).toBe('commenter');
        expect(await store.roleOf(uniqueId('doc'), userId)).toBeUndefined();
      });
    });

    describe('tombstone expiry', () => {
      it('still refuses an older grant one second before the tombstone expires', async () => {
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        await store.setRole(documentId, userId, null, t);
        clock.advanceSeconds(TOMBSTONE_DAYS * DAY_SECONDS - 1);
        expect(await store.setRole(documentId, userId, 'editor', t - 1000)).toBe(false);
        expect(await store.roleOf(documentId, userId)).toBeUndefined();
      });

      it('forgets a revocation after 30 days: an older grant applies again', async () => {
        // Prepare
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        await store.setRole(documentId, userId, 'owner', t - 2000);
        await store.setRole(documentId, userId, null, t);
        // Act
        clock.advanceSeconds(TOMBSTONE_DAYS * DAY_SECONDS);
        const applied = await store.setRole(documentId, userId, 'viewer', t - 1000);
        // Assess
        expect(applied).toBe(true);
        expect(await store.roleOf(documentId, userId)).toBe('viewer');
      });

      it('counts the 30 days from the revocation being written, not from its changedAt', async () => {
        const { clock, store, documentId, userId } = setup();
        const t = clock.now();
        // A revocation that arrives 40 days after it was made still blocks for 30 days.
        await store.setRole(documentId, userId, null, t - 40 * DAY_SECONDS * 1000);
        clock.advanceSeconds(29 * DAY_SECONDS);
        expect(await store.setRole(documentId, userId, 'editor', t - 41 * DAY_SECONDS * 1000)).toBe(false);
      });
    });
  });
}
