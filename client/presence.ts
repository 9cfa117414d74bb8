/**
 * Presence in one document: the live `members` map (the joiner included), join/leave/update
 * events, and the local cursor and selection, which the client sends coalesced.
 */
import type { PresenceMemberData, ServerMessage } from '../functions/domain/messages.ts';
import { Emitter } from './emitter.ts';

export type Cursor = NonNullable<PresenceMemberData['cursor']>;
export type Selection = NonNullable<PresenceMemberData['selection']>;
export type PresenceMember = PresenceMemberData;

export interface PresenceEvents extends Record<string, unknown[]> {
  /** Someone entered the document (or was there when this client joined or rejoined). */
  join: [member: PresenceMember];
  /** Someone left (or presence became unavailable, e.g. on the SSE fallback). */
  leave: [member: PresenceMember];
  /** A member moved their cursor or changed their selection. */
  update: [member: PresenceMember];
  /** The whole map changed at once (a snapshot after joining, or it was cleared). */
  sync: [members: ReadonlyMap<string, PresenceMember>];
  /** The server refused or ended this presence (PERMISSION_DENIED, PRESENCE_UNAVAILABLE...). */
  error: [error: Error & { code?: string }];
}

/** What the client core offers a document (kept narrow so presence is testable alone). */
export interface PresenceHost {
  schedulePresence(doc: DocumentPresence): void;
  leaveDocument(doc: DocumentPresence): void;
}

type PresenceMessage = Extract<ServerMessage, { event: `presence:${string}` }>;

export class DocumentPresence {
  readonly channel: string;
  readonly #members = new Map<string, PresenceMember>();
  readonly #events = new Emitter<PresenceEvents>();
  /** The local state, sent again after every (re)join so the others see it. */
  #cursor: Cursor | null | undefined;
  #selection: Selection | null | undefined;
  /** Fields changed since the last send. */
  #dirty = { cursor: false, selection: false };
  #left = false;

  constructor(
    readonly documentId: string,
    private readonly host: PresenceHost,
  ) {
    this.channel = `presence.${documentId}`;
  }

  /** Every member of the document, by user id, this user included. */
  get members(): ReadonlyMap<string, PresenceMember> {
    return this.#members;
  }

  get left(): boolean {
    return this.#left;
  }

  on<K extends keyof PresenceEvents>(event: K, listener: (...args: PresenceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Moves this user's cursor (`null` hides it). Sent at most once per animation frame. */
  updateCursor(cursor: Cursor | null): void {
    if (this.#left) return;
    this.#cursor = cursor;
    this.#dirty.cursor = true;
    this.host.schedulePresence(this);
  }

  /** Changes this user's selection (`null` clears it). Coalesced with the cursor. */
  updateSelection(selection: Selection | null): void {
    if (this.#left) return;
    this.#selection = selection;
    this.#dirty.selection = true;
    this.host.schedulePresence(this);
  }

  /** Leaves the document: the others see this user leave once no other tab of theirs is in it. */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.host.leaveDocument(this);
    this.clear();
  }

  // --- for the client core ---------------------------------------------------------------

  get hasPending(): boolean {
    return this.#dirty.cursor || this.#dirty.selection;
  }

  /** The frame to send for the pending changes, and marks them sent. */
  takePending(): Record<string, unknown> | undefined {
    if (!this.hasPending) return undefined;
    const frame: Record<string, unknown> = { action: 'presence', documentId: this.documentId };
    if (this.#dirty.cursor) frame['cursor'] = this.#cursor ?? null;
    if (this.#dirty.selection) frame['selection'] = this.#selection ?? null;
    this.#dirty = { cursor: false, selection: false };
    return frame;
  }

  /** After a (re)join: what this user had set is sent again. */
  markLocalStateDirty(): void {
    if (this.#cursor !== undefined) this.#dirty.cursor = true;
    if (this.#selection !== undefined) this.#dirty.selection = true;
  }

  apply(message: PresenceMessage): void {
    switch (message.event) {
      case 'presence:snapshot': {
        const next = new Map(message.members.map((m) => [m.userId, m] as const));
        const gone = [...this.#members.values()].filter((m) => !next.has(m.userId));
        const added = [...next.values()].filter((m) => !this.#members.has(m.userId));
        const changed = [...next.values()].filter((m) => this.#members.has(m.userId));
        this.#members.clear();
        for (const [id, m] of next) this.#members.set(id, m);
        for (const m of gone) this.#events.emit('leave', m);
        for (const m of added) this.#events.emit('join', m);
        for (const m of changed) this.#events.emit('update', m);
        this.#events.emit('sync', this.#members);
        return;
      }
      case 'presence:user-joined':
        this.#members.set(message.member.userId, message.member);
        this.#events.emit('join', message.member);
        return;
      case 'presence:update': {
        const member = this.#members.get(message.userId);
        if (!member) return; // joined before our snapshot arrived; the snapshot carries it
        const next: PresenceMember = { ...member, lastSeen: message.lastSeen };
        if (message.cursor !== undefined) {
          if (message.cursor === null) delete next.cursor;
          else next.cursor = message.cursor;
        }
        if (message.selection !== undefined) {
          if (message.selection === null) delete next.selection;
          else next.selection = message.selection;
        }
        this.#members.set(message.userId, next);
        this.#events.emit('update', next);
        return;
      }
      case 'presence:user-left': {
        const member = this.#members.get(message.userId);
        if (!member) return;
        this.#members.delete(message.userId);
        this.#events.emit('leave', member);
        return;
      }
    }
  }

  /** An `error` the server sent about this document's presence. */
  fail(error: Error & { code?: string }): void {
    this.#events.emit('error', error);
  }

  /** Presence is not available (left, or on the SSE fallback): everyone leaves the map. */
  clear(): void {
    if (this.#members.size === 0) return;
    const gone = [...this.#members.values()];
    this.#members.clear();
    for (const m of gone) this.#events.emit('leave', m);
    this.#events.emit('sync', this.#members);
  }
}
