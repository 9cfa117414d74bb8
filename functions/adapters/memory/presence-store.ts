/**
 * In-memory PresenceStore. SINGLE-PROCESS ONLY: state lives in this object, so it suits tests
 * and the local runtime (where every handler shares one process), never more than one Lambda
 * instance. A first-class engine nonetheless: same observable behaviour as RedisPresenceStore,
 * checked by test/contract/presence-store.contract.ts.
 *
 * Semantics shared with the Redis engine:
 *   - a connection last seen before now - timeoutMs is expired; the mutating calls (join,
 *     update, touch, leave, leaveAll) first sweep the documents they touch, removing expired
 *     connections and the members left without one, and report those members in `expired`
 *     (exactly once: the sweep that removes them reports them);
 *   - `members()` only filters expired connections out, it removes nothing;
 *   - `update` of a connection that is not live in the document changes nothing and returns
 *     undefined;
 *   - colors follow pickColor against the other members; a member keeps its color while any
 *     of its connections is present;
 *   - a document nobody wrote to for 2 x timeoutMs is dropped silently (Redis lets its keys
 *     expire), so abandoned documents do not pile up in a long-running local process.
 * Time comes from the injected clock.
 */
import {
  systemClock,
  type Clock,
  type PresenceConnection,
  type PresenceDeparture,
  type PresenceJoin,
  type PresenceStore,
} from '../../domain/ports.ts';
import {
  pickColor,
  type PresenceCursor,
  type PresenceMember,
  type PresenceSelection,
} from '../../domain/presence-types.ts';
import { copy } from './support.ts';

export interface MemoryPresenceStoreOptions {
  clock?: Clock;
  /** A connection not heard from (join, update, touch) for this long expires. Default 30000. */
  timeoutMs?: number;
}

interface MemoryDocument {
  members: Map<string, PresenceMember>;
  /** connectionId -> its user and when it was last heard from (ms). */
  connections: Map<string, { userId: string; lastSeen: number }>;
  /** The last change (ms): the document is dropped 2 x timeoutMs later. */
  writtenAt: number;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly documents = new Map<string, MemoryDocument>();
  /** connectionId -> the documents it joined (may name documents it has since left or expired from). */
  private readonly joined = new Map<string, Set<string>>();
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryPresenceStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    if (!(this.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
  }

  join(documentId: string, connection: PresenceConnection): Promise<PresenceJoin> {
    const now = this.clock.now();
    this.prune(now);
    const { connectionId, userId } = connection;
    let index = this.joined.get(connectionId);
    if (!index) this.joined.set(connectionId, (index = new Set()));
    index.add(documentId);

    let doc = this.live(documentId, now);
    if (!doc) this.documents.set(documentId, (doc = { members: new Map(), connections: new Map(), writtenAt: now }));
    const expired = this.sweep(documentId, doc, now);
    // The same connection joining as another user: it stops counting for the previous one.
    const previous = doc.connections.get(connectionId);
    if (previous && previous.userId !== userId) {
      doc.connections.delete(connectionId);
      const departure = this.dropIfAlone(documentId, doc, previous.userId);
      if (departure) expired.push(departure);
    }
    const joined = !this.hasConnection(doc, userId);
    let member = doc.members.get(userId);
    if (!member) {
      const taken = new Set([...doc.members.values()].map((m) => m.color));
      member = { userId, name: connection.name, color: pickColor(userId, taken), lastSeen: '' };
      if (connection.avatar !== undefined) member.avatar = connection.avatar;
      doc.members.set(userId, member);
    }
    member.lastSeen = iso(now);
    doc.connections.set(connectionId, { userId, lastSeen: now });
    this.finish(documentId, doc, now);
    return Promise.resolve({
      member: copy(member),
      joined,
      members: sortMembers([...doc.members.values()].map(copy)),
      expired: sortDepartures(expired),
    });
  }

  update(
    documentId: string,
    connectionId: string,
    patch: { cursor?: PresenceCursor | null; selection?: PresenceSelection | null },
  ): Promise<{ member: PresenceMember; expired: PresenceDeparture[] } | undefined> {
    const now = this.clock.now();
    this.prune(now);
    const doc = this.live(documentId, now);
    const connection = doc?.connections.get(connectionId);
    const member = connection && doc?.members.get(connection.userId);
    // Not live in the document: nothing changes (nothing is swept either).
    if (!doc || !connection || !member || this.isExpired(connection.lastSeen, now)) return Promise.resolve(undefined);
    const expired = this.sweep(documentId, doc, now);
    if (patch.cursor === null) delete member.cursor;
    else if (patch.cursor !== undefined) member.cursor = copy(patch.cursor);
    if (patch.selection === null) delete member.selection;
    else if (patch.selection !== undefined) member.selection = copy(patch.selection);
    member.lastSeen = iso(now);
    connection.lastSeen = now;
    this.finish(documentId, doc, now);
    return Promise.resolve({ member: copy(member), expired: sortDepartures(expired) });
  }

  touch(connectionId: string): Promise<{ documentIds: string[]; expired: PresenceDeparture[] }> {
    const now = this.clock.now();
    this.prune(now);
    const index = this.joined.get(connectionId);
    const documentIds: string[] = [];
    const expired: PresenceDeparture[] = [];
    for (const documentId of [...(index ?? [])].sort(compare)) {
      const doc = this.live(documentId, now);
      if (doc) expired.push(...sortDepartures(this.sweep(documentId, doc, now)));
      const connection = doc?.connections.get(connectionId);
      if (doc && connection) {
        connection.lastSeen = now;
        const member = doc.members.get(connection.userId);
        if (member) member.lastSeen = iso(now);
        documentIds.push(documentId);
      } else {
        index?.delete(documentId);
      }
      if (doc) this.finish(documentId, doc, now);
    }
    if (index?.size === 0) this.joined.delete(connectionId);
    return Promise.resolve({ documentIds, expired });
  }

  leave(
    documentId: string,
    connectionId: string,
  ): Promise<{ left: PresenceDeparture | undefined; expired: PresenceDeparture[] }> {
    const now = this.clock.now();
    this.prune(now);
    const index = this.joined.get(connectionId);
    index?.delete(documentId);
    if (index?.size === 0) this.joined.delete(connectionId);
    return Promise.resolve(this.leaveOne(documentId, connectionId, now));
  }

  leaveAll(connectionId: string): Promise<{ left: PresenceDeparture[]; expired: PresenceDeparture[] }> {
    const now = this.clock.now();
    this.prune(now);
    const left: PresenceDeparture[] = [];
    const expired: PresenceDeparture[] = [];
    for (const documentId of [...(this.joined.get(connectionId) ?? [])].sort(compare)) {
      const result = this.leaveOne(documentId, connectionId, now);
      if (result.left) left.push(result.left);
      expired.push(...result.expired);
    }
    this.joined.delete(connectionId);
    return Promise.resolve({ left, expired });
  }

  members(documentId: string): Promise<PresenceMember[]> {
    const now = this.clock.now();
    const doc = this.live(documentId, now);
    if (!doc) return Promise.resolve([]);
    const users = new Set<string>();
    for (const connection of doc.connections.values()) {
      if (!this.isExpired(connection.lastSeen, now)) users.add(connection.userId);
    }
    const members = [...users].flatMap((userId) => {
      const member = doc.members.get(userId);
      return member ? [copy(member)] : [];
    });
    return Promise.resolve(sortMembers(members));
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------

  private leaveOne(
    documentId: string,
    connectionId: string,
    now: number,
  ): { left: PresenceDeparture | undefined; expired: PresenceDeparture[] } {
    const doc = this.live(documentId, now);
    if (!doc) return { left: undefined, expired: [] };
    const expired = this.sweep(documentId, doc, now);
    const connection = doc.connections.get(connectionId);
    let left: PresenceDeparture | undefined;
    if (connection) {
      doc.connections.delete(connectionId);
      left = this.dropIfAlone(documentId, doc, connection.userId);
    }
    this.finish(documentId, doc, now);
    return { left, expired: sortDepartures(expired) };
  }

  private isExpired(lastSeen: number, now: number): boolean {
    return lastSeen < now - this.timeoutMs;
  }

  /** Removes the expired connections, then the members left without one; returns those. */
  private sweep(documentId: string, doc: MemoryDocument, now: number): PresenceDeparture[] {
    const candidates = new Set<string>();
    for (const [connectionId, connection] of doc.connections) {
      if (this.isExpired(connection.lastSeen, now)) {
        doc.connections.delete(connectionId);
        candidates.add(connection.userId);
      }
    }
    const departed: PresenceDeparture[] = [];
    for (const userId of candidates) {
      const departure = this.dropIfAlone(documentId, doc, userId);
      if (departure) departed.push(departure);
    }
    return departed;
  }

  private hasConnection(doc: MemoryDocument, userId: string): boolean {
    for (const connection of doc.connections.values()) if (connection.userId === userId) return true;
    return false;
  }

  /** Removes the user's member when none of its connections is left; the departure if so. */
  private dropIfAlone(documentId: string, doc: MemoryDocument, userId: string): PresenceDeparture | undefined {
    if (this.hasConnection(doc, userId) || !doc.members.delete(userId)) return undefined;
    return { documentId, userId };
  }

  /** After a change: the document lives on, or goes when nobody is left. */
  private finish(documentId: string, doc: MemoryDocument, now: number): void {
    if (doc.connections.size === 0) this.documents.delete(documentId);
    else doc.writtenAt = now;
  }

  /** The document unless it was abandoned (no change for 2 x timeoutMs): then it is dropped. */
  private live(documentId: string, now: number): MemoryDocument | undefined {
    const doc = this.documents.get(documentId);
    if (doc && now - doc.writtenAt >= 2 * this.timeoutMs) {
      this.documents.delete(documentId);
      return undefined;
    }
    return doc;
  }

  /** At most once per timeoutMs: drops abandoned documents and the index entries of
   * connections that are in none of their documents any more. */
  private prune(now: number): void {
    if (now - this.prunedAt < this.timeoutMs) return;
    this.prunedAt = now;
    for (const documentId of [...this.documents.keys()]) this.live(documentId, now);
    for (const [connectionId, index] of this.joined) {
      for (const documentId of index) {
        if (!this.documents.get(documentId)?.connections.has(connectionId)) index.delete(documentId);
      }
      if (index.size === 0) this.joined.delete(connectionId);
    }
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const sortMembers = (members: PresenceMember[]): PresenceMember[] =>
  members.sort((a, b) => compare(a.userId, b.userId));

const sortDepartures = (departures: PresenceDeparture[]): PresenceDeparture[] =>
  departures.sort((a, b) => compare(a.userId, b.userId));
