/**
 * In-memory DocumentRoleStore. SINGLE-PROCESS ONLY: state lives in this object, so it suits
 * tests and the local runtime, never more than one Lambda instance. Same observable behaviour
 * as DynamoDocumentRoleStore (checked by test/contract/document-role-store.contract.ts):
 * a revocation leaves a tombstone for 30 days so an older grant arriving late cannot bring
 * access back; live roles never expire.
 */
import { DOCUMENT_ROLES, type DocumentRole } from '../../domain/authorization.ts';
import { systemClock, type Clock, type DocumentRoleStore } from '../../domain/ports.ts';
import { isExpired } from './support.ts';

/** How long a revocation tombstone blocks older changes (seconds), as in DynamoDB. */
export const MEMORY_ROLE_TOMBSTONE_TTL_SECONDS = 30 * 24 * 60 * 60;

interface Entry {
  /** Absent on a revocation tombstone. */
  role?: DocumentRole;
  changedAt: number;
  updatedAt: number;
  /** Epoch seconds; only tombstones have one. */
  expiresAt?: number;
}

const ROLES: ReadonlySet<string> = new Set(DOCUMENT_ROLES);

export class MemoryDocumentRoleStore implements DocumentRoleStore {
  private readonly clock: Clock;
  /** documentId → userId → entry. */
  private readonly documents = new Map<string, Map<string, Entry>>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  roleOf(documentId: string, userId: string): Promise<DocumentRole | undefined> {
    const entry = this.live(documentId, userId);
    return Promise.resolve(entry?.role);
  }

  setRole(documentId: string, userId: string, role: DocumentRole | null, changedAt: number): Promise<boolean> {
    checkChange(role, changedAt);
    const current = this.live(documentId, userId);
    if (current && current.changedAt > changedAt) return Promise.resolve(false);
    const now = this.clock.now();
    const entry: Entry =
      role === null
        ? { changedAt, updatedAt: now, expiresAt: Math.floor(now / 1000) + MEMORY_ROLE_TOMBSTONE_TTL_SECONDS }
        : { role, changedAt, updatedAt: now };
    let users = this.documents.get(documentId);
    if (!users) {
      users = new Map();
      this.documents.set(documentId, users);
    }
    users.set(userId, entry);
    return Promise.resolve(true);
  }

  /** The entry unless absent or an expired tombstone (which is dropped). */
  private live(documentId: string, userId: string): Entry | undefined {
    const users = this.documents.get(documentId);
    const entry = users?.get(userId);
    if (!users || !entry) return undefined;
    if (entry.expiresAt !== undefined && isExpired(entry.expiresAt, this.clock)) {
      users.delete(userId);
      if (users.size === 0) this.documents.delete(documentId);
      return undefined;
    }
    return entry;
  }
}

/** Rejects what the DynamoDB adapter could not order or would store as an unknown role. */
function checkChange(role: DocumentRole | null, changedAt: number): void {
  if (!Number.isFinite(changedAt)) throw new RangeError(`changedAt must be a finite number, got ${String(changedAt)}`);
  if (role !== null && !ROLES.has(role)) throw new RangeError(`Unknown document role: ${String(role)}`);
}
