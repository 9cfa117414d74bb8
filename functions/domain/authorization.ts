import type { Channel } from './channels.ts';
import { permissionDenied } from './errors.ts';
import type { ChannelStore, Identity, Subscription } from './ports.ts';

export const DOCUMENT_ROLES = ['owner', 'editor', 'commenter', 'viewer'] as const;
export type DocumentRole = (typeof DOCUMENT_ROLES)[number];

/** Where document roles come from; the presence issue plugs the real store in here. */
export interface DocumentRoleLookup {
  roleOf(documentId: string, userId: string): Promise<DocumentRole | undefined>;
}

/** Until document roles exist nobody has one, so `docs.*` and `presence.*` are refused. */
export const noDocumentRoles: DocumentRoleLookup = { roleOf: async () => undefined };

/**
 * Who may subscribe to what. The same rules are applied again at delivery time
 * (`mayReceive`) so a subscription accepted before a job's first event never leaks
 * another user's job.
 */
export class ChannelAuthorizer {
  readonly #channels: ChannelStore;
  readonly #documentRoles: DocumentRoleLookup;

  constructor(deps: { channels: ChannelStore; documentRoles?: DocumentRoleLookup }) {
    this.#channels = deps.channels;
    this.#documentRoles = deps.documentRoles ?? noDocumentRoles;
  }

  /** Resolves when `identity` may subscribe to `channel`; throws PERMISSION_DENIED otherwise. */
  async authorizeSubscribe(identity: Identity, channel: Channel): Promise<void> {
    switch (channel.kind) {
      case 'user':
        if (channel.id !== identity.userId) throw permissionDenied(channel.name, 'Only the user may subscribe to their channel');
        return;
      case 'jobs': {
        // A job nobody has published yet is accepted: clients subscribe right after creating it.
        const job = await this.#channels.getJob(channel.id);
        if (job && job.userId !== identity.userId) throw permissionDenied(channel.name, 'Not the owner of this job');
        return;
      }
      case 'docs':
      case 'presence': {
        const role = await this.#documentRoles.roleOf(channel.id, identity.userId);
        if (!role) throw permissionDenied(channel.name, 'No role on this document');
        return;
      }
    }
  }
}

/**
 * Delivery-time check: for `user.*` only that user, for `jobs.*` only the job's owner
 * (`owner` is known from the job's state when the event is applied).
 */
export function mayReceive(subscription: Subscription, channel: Channel, owner: string | undefined): boolean {
  if (channel.kind === 'user') return subscription.userId === channel.id;
  if (channel.kind === 'jobs') return owner !== undefined && subscription.userId === owner;
  return true;
}
