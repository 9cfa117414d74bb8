/**
 * The worker publisher: how workers (and tests, and `npm run publish`) send job updates,
 * notifications and document permission changes, exactly as production does, through EventBridge PutEvents. Events are
 * validated by the same schemas the fan-out applies, so a bad event fails here, loudly.
 */
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  DETAIL_TYPES,
  DocumentPermissionDetail,
  EVENT_SOURCE,
  JobUpdateDetail,
  NotificationDetail,
  describeIssues,
} from '../domain/messages.ts';

export type JobUpdateInput = Omit<JobUpdateDetail, 'timestamp'> & { timestamp?: string };
export type NotificationInput = NotificationDetail;
export type DocumentPermissionInput = Omit<DocumentPermissionDetail, 'timestamp'> & { timestamp?: string };

export interface PublisherOptions {
  client: EventBridgeClient;
  /** @default process.env.EVENT_BUS_NAME, else 'default' */
  eventBusName?: string;
  /** @default 'realtime.workers' */
  source?: string;
  /** @default () => new Date() */
  now?: () => Date;
}

export class PublishError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PublishError';
    this.code = code;
  }
}

export interface Publisher {
  /** Publishes a job update; resolves to the EventBridge event id. */
  publishJobUpdate(update: JobUpdateInput): Promise<string>;
  publishNotification(notification: NotificationInput): Promise<string>;
  /** Grants, changes or (`role: null`) revokes a user's role on a document. */
  publishDocumentPermission(change: DocumentPermissionInput): Promise<string>;
}

export function createPublisher(options: PublisherOptions): Publisher {
  const bus = options.eventBusName ?? process.env['EVENT_BUS_NAME'] ?? 'default';
  const source = options.source ?? EVENT_SOURCE;
  const now = options.now ?? (() => new Date());

  async function put(detailType: string, detail: object): Promise<string> {
    const result = await options.client.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: bus, Source: source, DetailType: detailType, Detail: JSON.stringify(detail) }],
      }),
    );
    const entry = result.Entries?.[0];
    if ((result.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
      throw new PublishError(entry?.ErrorCode ?? 'PUT_EVENTS_FAILED', entry?.ErrorMessage ?? 'EventBridge refused the event');
    }
    return entry.EventId;
  }

  return {
    async publishJobUpdate(update) {
      const parsed = JobUpdateDetail.safeParse({ ...update, timestamp: update.timestamp ?? now().toISOString() });
      if (!parsed.success) throw new PublishError('INVALID_MESSAGE', `Invalid job update: ${describeIssues(parsed.error.issues)}`);
      return put(DETAIL_TYPES.jobUpdate, parsed.data);
    },
    async publishNotification(notification) {
      const parsed = NotificationDetail.safeParse({ timestamp: now().toISOString(), ...notification });
      if (!parsed.success) throw new PublishError('INVALID_MESSAGE', `Invalid notification: ${describeIssues(parsed.error.issues)}`);
      return put(DETAIL_TYPES.notification, parsed.data);
    },
    async publishDocumentPermission(change) {
      const parsed = DocumentPermissionDetail.safeParse({ ...change, timestamp: change.timestamp ?? now().toISOString() });
      if (!parsed.success) throw new PublishError('INVALID_MESSAGE', `Invalid permission change: ${describeIssues(parsed.error.issues)}`);
      return put(DETAIL_TYPES.documentPermission, parsed.data);
    },
  };
}
