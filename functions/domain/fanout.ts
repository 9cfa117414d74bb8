import type { AbuseLimits } from './limits.ts';
import { mayReceive } from './authorization.ts';
import { jobChannel, parseChannel, userChannel } from './channels.ts';
import type { Delivery } from './delivery.ts';
import { jobUpdateData } from './jobs.ts';
import { ErrorCode, RealtimeError } from './errors.ts';
import { presenceChannel, type PresenceService } from './presence.ts';
import { errorMessage } from './wire.ts';
import {
  DETAIL_TYPES,
  DocumentPermissionDetail,
  EventBridgeEvent,
  JobUpdateDetail,
  NotificationDetail,
  describeIssues,
  type ChannelMessage,
} from './messages.ts';
import type {
  AssignedEvent,
  ChannelStore,
  DocumentRoleStore,
  Clock,
  DeadLetterSink,
  EventLedger,
  FanoutPageTask,
  HistoryStore,
  Log,
  Metrics,
  SubscriptionStore,
  TaskQueue,
} from './ports.ts';
import { TTL, epochSeconds } from './time.ts';

export interface FanoutOptions {
  /** Subscribers listed (and posted) per invocation; the rest go to other invocations. @default 1000 */
  pageSize?: number;
  /** How long a claim on an event holds before another invocation may take it over. @default 60000 */
  leaseMs?: number;
  /** @default 24 h */
  historyTtlSec?: number;
}

export interface FanoutDeps {
  channels: ChannelStore;
  history: HistoryStore;
  ledger: EventLedger;
  subscriptions: SubscriptionStore;
  delivery: Delivery;
  tasks: TaskQueue;
  deadLetters: DeadLetterSink;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  /** Applies `document.permission` events; without it they go to the dead-letter queue. */
  documentRoles?: DocumentRoleStore;
  /** Lets a revoked user's connections leave the document's presence. */
  presence?: PresenceService;
  /** Frees the per-user subscription slots of revoked subscriptions. */
  limits?: AbuseLimits;
}

/** Thrown when a record should be retried later (SQS redelivers it). */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

type Work =
  | { kind: 'malformed'; reason: string }
  | { kind: 'job'; eventId: string; channel: string; detail: JobUpdateDetail }
  | { kind: 'notification'; eventId: string; channel: string; detail: NotificationDetail; time: string | undefined }
  | { kind: 'page'; channel: string; task: FanoutPageTask }
  | { kind: 'permission'; eventId: string; channel: string; detail: DocumentPermissionDetail; time: string | undefined };

/**
 * Turns worker events into channel messages and delivers them.
 *
 * For each event: validate (malformed events go straight to the dead-letter queue), claim it
 * in the ledger (an SQS redelivery of a processed event is dropped), apply it to the channel's
 * state under the no-regression rules, which assigns the channel's next offset, keep it in
 * history, then post it to the channel's live subscribers a page at a time; pages after the
 * first are handed to other invocations through the queue, so a big channel is spread out.
 *
 * Records of one channel are processed one after another, in the order given, so offsets are
 * posted in order; different channels proceed in parallel.
 */
export class Fanout {
  readonly #deps: FanoutDeps;
  readonly #pageSize: number;
  readonly #leaseMs: number;
  readonly #historyTtlSec: number;
  readonly #defaultOrder = new ChannelOrder();

  constructor(deps: FanoutDeps, options: FanoutOptions = {}) {
    this.#deps = deps;
    this.#pageSize = options.pageSize ?? 1000;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#historyTtlSec = options.historyTtlSec ?? TTL.historySec;
  }

  /**
   * Processes one queue record body; throws when the record must be retried. Records given the
   * same `order` (one per batch) are processed in order per channel.
   */
  processRecord(body: string, order: ChannelOrder = this.#defaultOrder): Promise<void> {
    const work = this.#classify(body);
    if (work.kind === 'malformed') return this.#deadLetter(body, work.reason);
    return order.run(work.channel, () => this.#run(work));
  }

  #classify(body: string): Work {
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      return { kind: 'malformed', reason: 'body is not JSON' };
    }
    if (isPageTask(raw)) return { kind: 'page', channel: raw.channel, task: raw };
    const envelope = EventBridgeEvent.safeParse(raw);
    if (!envelope.success) return { kind: 'malformed', reason: `not an EventBridge event: ${describeIssues(envelope.error.issues)}` };
    const event = envelope.data;
    switch (event['detail-type']) {
      case DETAIL_TYPES.jobUpdate: {
        const detail = JobUpdateDetail.safeParse(event.detail);
        if (!detail.success) return { kind: 'malformed', reason: `invalid job.update: ${describeIssues(detail.error.issues)}` };
        return { kind: 'job', eventId: event.id, channel: jobChannel(detail.data.jobId), detail: detail.data };
      }
      case DETAIL_TYPES.notification: {
        const detail = NotificationDetail.safeParse(event.detail);
        if (!detail.success) {
          return { kind: 'malformed', reason: `invalid user.notification: ${describeIssues(detail.error.issues)}` };
        }
        return { kind: 'notification', eventId: event.id, channel: userChannel(detail.data.userId), detail: detail.data, time: event.time };
      }
      case DETAIL_TYPES.documentPermission: {
        const detail = DocumentPermissionDetail.safeParse(event.detail);
        if (!detail.success) {
          return { kind: 'malformed', reason: `invalid document.permission: ${describeIssues(detail.error.issues)}` };
        }
        if (!this.#deps.documentRoles) return { kind: 'malformed', reason: 'document roles are not configured' };
        // Ordered with the document's events, so a revocation and a publish keep their order.
        return { kind: 'permission', eventId: event.id, channel: `docs.${detail.data.documentId}`, detail: detail.data, time: event.time };
      }
      default:
        return { kind: 'malformed', reason: `unsupported detail-type ${JSON.stringify(event['detail-type']).slice(0, 100)}` };
    }
  }

  async #run(work: Exclude<Work, { kind: 'malformed' }>): Promise<void> {
    if (work.kind === 'page') {
      const { channel, message, owner, cursor, publishedAt } = work.task;
      await this.#deliver(channel, message, owner, cursor, publishedAt);
      return;
    }
    const { ledger, log, metrics, clock } = this.#deps;
    const ledgerExpiry = epochSeconds(clock.now()) + TTL.ledgerSec;
    const claim = await ledger.claim(work.eventId, this.#leaseMs, ledgerExpiry);
    if (claim.status === 'done') {
      metrics.count('EventsDuplicate');
      log.info('duplicate event dropped', { eventId: work.eventId, channel: work.channel });
      return;
    }
    if (claim.status === 'busy') throw new RetryLaterError(`event ${work.eventId} is being processed elsewhere`);
    try {
      if (work.kind === 'permission') {
        await this.#applyPermission(work.detail, work.time);
        await ledger.complete(work.eventId, ledgerExpiry);
        metrics.count('EventsProcessed');
        return;
      }
      let assigned = claim.assigned;
      if (assigned) {
        // An earlier attempt applied it and took its offset: publish that, never a second offset.
        log.info('resuming an applied event', { eventId: work.eventId, channel: work.channel, offset: assigned.message.offset });
      } else {
        assigned = work.kind === 'job' ? await this.#applyJob(work.eventId, work.channel, work.detail) : await this.#applyNotification(work);
        if (assigned) await ledger.assign(work.eventId, assigned);
      }
      if (assigned) {
        const { history } = this.#deps;
        await history.append(assigned.message.channel, assigned.message, epochSeconds(clock.now()) + this.#historyTtlSec);
        await this.#deliver(assigned.message.channel, assigned.message, assigned.owner, undefined, assigned.publishedAt);
      }
      await ledger.complete(work.eventId, ledgerExpiry);
      metrics.count('EventsProcessed');
    } catch (error) {
      await ledger.release(work.eventId).catch((releaseError: unknown) => {
        log.warn('could not release claim; it expires with its lease', { eventId: work.eventId, error: releaseError });
      });
      throw error;
    }
  }

  /** Applies a job update; undefined when it is dropped (stale, after a terminal status, wrong owner). */
  async #applyJob(eventId: string, channel: string, detail: JobUpdateDetail): Promise<AssignedEvent | undefined> {
    const { channels, log, metrics, clock } = this.#deps;
    const outcome = await channels.applyJobUpdate(detail, eventId, epochSeconds(clock.now()) + TTL.jobStateSec);
    const logAttrs = { eventId, jobId: detail.jobId, channel, status: detail.status };
    switch (outcome.kind) {
      case 'stale':
      case 'terminal':
        metrics.count('EventsStale');
        log.info(`job update dropped: ${outcome.kind}`, { ...logAttrs, current: outcome.state.status, offset: outcome.state.offset });
        return undefined;
      case 'owner-mismatch':
        metrics.count('EventsRejected');
        log.warn('job update names another user than the job owner; dropped', logAttrs);
        return undefined;
      case 'applied':
      case 'already-applied': {
        const message: ChannelMessage = { event: 'job:update', channel, offset: outcome.state.offset, data: jobUpdateData(outcome.state) };
        log.info('job update applied', { ...logAttrs, offset: message.offset, resumed: outcome.kind === 'already-applied' });
        return { message, owner: outcome.state.userId, publishedAt: detail.timestamp };
      }
    }
  }

  /**
   * Grants, changes or revokes a document role. A revocation ends the user's live
   * subscriptions to the document's channels and tells each connection which channel it lost.
   */
  async #applyPermission(detail: DocumentPermissionDetail, time: string | undefined): Promise<void> {
    const { documentRoles, log, metrics } = this.#deps;
    const changedAt = Date.parse(detail.timestamp ?? time ?? '') || this.#deps.clock.now();
    const applied = await (documentRoles as DocumentRoleStore).setRole(detail.documentId, detail.userId, detail.role, changedAt);
    const attrs = { documentId: detail.documentId, userId: detail.userId, role: detail.role };
    if (!applied) {
      metrics.count('EventsStale');
      log.info('permission change older than the current one; dropped', attrs);
      return;
    }
    metrics.count('PermissionChanges');
    log.info('document role changed', attrs);
    if (detail.role === null) await this.#revoke(detail.documentId, detail.userId);
  }

  /**
   * Presence first, and leaving it before the subscription goes: if presence cannot be left the
   * event fails and is retried with the subscriptions still there to find, so a revoked
   * connection never stays present (and able to relay cursors) with no subscription left.
   */
  async #revoke(documentId: string, userId: string): Promise<void> {
    const { subscriptions, delivery, presence, clock, metrics } = this.#deps;
    for (const channel of [presenceChannel(documentId), `docs.${documentId}`]) {
      const revoked: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await subscriptions.listByChannel(channel, cursor === undefined ? { limit: this.#pageSize } : { limit: this.#pageSize, cursor });
        revoked.push(...page.items.filter((s) => s.userId === userId).map((s) => s.connectionId));
        cursor = page.cursor;
      } while (cursor !== undefined);
      if (revoked.length === 0) continue;
      for (const connectionId of revoked) {
        if (channel.startsWith('presence.') && presence) await presence.leave(connectionId, documentId);
        await subscriptions.remove(connectionId, channel);
        await this.#deps.limits?.releaseSubscription(userId, connectionId, channel);
      }
      metrics.count('SubscriptionsRevoked', revoked.length);
      const notice = errorMessage(
        new RealtimeError(ErrorCode.PERMISSION_DENIED, 'Your access to this document was revoked', { channel }),
        clock.now(),
      );
      await delivery.deliver(revoked, notice);
    }
  }

  async #applyNotification(work: Extract<Work, { kind: 'notification' }>): Promise<AssignedEvent> {
    const { channels, clock, log } = this.#deps;
    const { offset } = await channels.advance(work.channel, work.eventId, epochSeconds(clock.now()) + TTL.channelHeadSec);
    const message: ChannelMessage = { event: 'notification', channel: work.channel, offset, data: { ...work.detail } };
    log.info('notification applied', { eventId: work.eventId, channel: work.channel, offset });
    const publishedAt = work.detail.timestamp ?? work.time;
    return publishedAt === undefined ? { message } : { message, publishedAt };
  }

  async #deliver(
    channelName: string,
    message: ChannelMessage,
    owner: string | undefined,
    cursor: string | undefined,
    publishedAt: string | undefined,
  ): Promise<void> {
    const { subscriptions, tasks, delivery, metrics, log } = this.#deps;
    const channel = parseChannel(channelName);
    if (!channel) return;
    const page = await subscriptions.listByChannel(channelName, cursor === undefined ? { limit: this.#pageSize } : { limit: this.#pageSize, cursor });
    if (page.cursor !== undefined) {
      // Hand the rest of the channel to another invocation before posting this page, so
      // pages are delivered in parallel rather than one after another.
      const task: FanoutPageTask = { kind: 'fanout.page', channel: channelName, message, cursor: page.cursor };
      if (owner !== undefined) task.owner = owner;
      if (publishedAt !== undefined) task.publishedAt = publishedAt;
      await tasks.enqueue(task);
      metrics.count('FanoutPagesEnqueued');
    }
    const targets = page.items.filter((s) => mayReceive(s, channel, owner)).map((s) => s.connectionId);
    const skipped = page.items.length - targets.length;
    if (skipped > 0) log.warn('subscribers not allowed to receive were skipped', { channel: channelName, skipped });
    const report = await delivery.deliver(targets, message, publishedAt);
    log.debug('page delivered', { channel: channelName, offset: message.offset, ...report });
  }

  async #deadLetter(body: string, reason: string): Promise<void> {
    const { deadLetters, log, metrics } = this.#deps;
    metrics.count('EventsMalformed');
    log.warn('malformed event sent to the dead-letter queue', { reason });
    await deadLetters.send(body, reason);
  }
}

function isPageTask(raw: unknown): raw is FanoutPageTask {
  if (typeof raw !== 'object' || raw === null) return false;
  const t = raw as Partial<FanoutPageTask>;
  return (
    t.kind === 'fanout.page' &&
    typeof t.channel === 'string' &&
    typeof t.cursor === 'string' &&
    typeof t.message === 'object' &&
    t.message !== null &&
    typeof t.message.offset === 'number'
  );
}

/**
 * The order of one batch: work on a channel starts when the previous work on that channel is
 * done. The chain is set up synchronously, so the batch's order is kept. When a record fails,
 * the records after it on the same channel fail too (and are redelivered) rather than
 * overtake it. One per batch (per invocation): concurrent invocations must not wait on each
 * other, and in the local runtime they share this module.
 */
export class ChannelOrder {
  readonly #tails = new Map<string, Promise<void>>();

  run(channel: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(channel);
    const current = previous
      ? previous.then(fn, () => {
          throw new RetryLaterError(`an earlier record of ${channel} failed; keeping order`);
        })
      : fn();
    this.#tails.set(channel, current);
    void current
      .catch(() => undefined)
      .then(() => {
        if (this.#tails.get(channel) === current) this.#tails.delete(channel);
      });
    return current;
  }
}
