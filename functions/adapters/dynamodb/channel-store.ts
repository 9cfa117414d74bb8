/**
 * ChannelStore on the single DynamoDB table: the head of each channel is one item
 * `CH#{channel}` / `#HEAD`. For `jobs.{jobId}` it holds the JobState (plus `tsMs`, the
 * update's timestamp as epoch milliseconds, because ISO strings with offsets do not sort);
 * for other channels only `offset`, `lastEventId` and `expiresAt`.
 *
 * applyJobUpdate is one conditional UpdateItem whose condition mirrors decideJobUpdate; when
 * the condition fails a strongly consistent read and decideJobUpdate explain why. An expired
 * head is absent: it is overwritten by a conditional PutItem and the channel starts over at
 * offset 1.
 */
import { BatchGetCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { jobChannel } from '../../domain/channels.ts';
import { decideJobUpdate, nextJobState } from '../../domain/jobs.ts';
import { JOB_STATUSES, TERMINAL_STATUSES, type JobStatus, type JobUpdateDetail } from '../../domain/messages.ts';
import { systemClock, type ChannelHead, type ChannelStore, type Clock, type JobApplyOutcome, type JobState } from '../../domain/ports.ts';
import { isConditionalCheckFailed, isExpired, keys, nowSeconds, type TableKey } from './table.ts';

export interface DynamoChannelStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: Clock;
}

type Item = Record<string, unknown>;

/** Rounds of write-then-explain before giving up on a head that keeps changing under us. */
const ATTEMPTS = 5;

const TERMINAL = [...TERMINAL_STATUSES];

export class DynamoChannelStore implements ChannelStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(options: DynamoChannelStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? systemClock;
  }

  async applyJobUpdate(update: JobUpdateDetail, eventId: string, expiresAt: number): Promise<JobApplyOutcome> {
    const key = keys.channelHead(jobChannel(update.jobId));
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const applied = await this.updateJob(key, update, eventId, expiresAt);
      if (applied) return { kind: 'applied', state: applied };
      // The condition failed: explain it with the same rules.
      const item = await this.read(key);
      const current = item && !isExpired(item, this.clock) ? toJobState(item) : undefined;
      if (current) {
        const decision = decideJobUpdate(current, update, eventId);
        if (decision !== 'apply') return { kind: decision, state: current };
        continue; // changed between the write and the read
      }
      if (item) {
        // Present but expired: absent for us, so the channel starts over at offset 1.
        const state = await this.replaceExpiredJob(key, update, eventId, expiresAt);
        if (state) return { kind: 'applied', state };
      }
    }
    throw new Error(`Job head ${key.pk} kept changing; gave up after ${String(ATTEMPTS)} attempts`);
  }

  async getJob(jobId: string): Promise<JobState | undefined> {
    const item = await this.read(keys.channelHead(jobChannel(jobId)));
    return item && !isExpired(item, this.clock) ? toJobState(item) : undefined;
  }

  /** One BatchGetItem (100 keys per call, unprocessed keys retried), strongly consistent. */
  async heads(channels: readonly string[]): Promise<Map<string, ChannelHead>> {
    const found = new Map<string, ChannelHead>();
    const unique = [...new Set(channels)];
    for (let i = 0; i < unique.length; i += 100) {
      let keysLeft: Record<string, unknown>[] = unique.slice(i, i + 100).map((c) => keys.channelHead(c));
      for (let attempt = 0; keysLeft.length > 0 && attempt < 5; attempt++) {
        const out = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keysLeft, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          if (isExpired(item, this.clock) || typeof item['offset'] !== 'number') continue;
          const channel = String(item['pk']).slice('CH#'.length);
          const job = channel.startsWith('jobs.') ? toJobState(item) : undefined;
          found.set(channel, job ? { channel, offset: item['offset'], job } : { channel, offset: item['offset'] });
        }
        keysLeft = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
        if (keysLeft.length > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      }
      if (keysLeft.length > 0) throw new Error('DynamoDB left channel heads unprocessed');
    }
    return found;
  }

  async advance(
    channel: string,
    eventId: string,
    expiresAt: number,
  ): Promise<{ offset: number; alreadyApplied: boolean }> {
    const key = keys.channelHead(channel);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        const out = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression:
              'SET #offset = if_not_exists(#offset, :zero) + :one, lastEventId = :eid, expiresAt = :exp',
            ConditionExpression:
              'attribute_not_exists(pk) OR ' +
              '(expiresAt > :nowSec AND (attribute_not_exists(lastEventId) OR lastEventId <> :eid))',
            ExpressionAttributeNames: { '#offset': 'offset' },
            ExpressionAttributeValues: {
              ':zero': 0,
              ':one': 1,
              ':eid': eventId,
              ':exp': expiresAt,
              ':nowSec': nowSeconds(this.clock),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { offset: out.Attributes?.['offset'] as number, alreadyApplied: false };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const item = await this.read(key);
      if (item && !isExpired(item, this.clock)) {
        if (item['lastEventId'] === eventId) return { offset: item['offset'] as number, alreadyApplied: true };
        continue; // changed between the write and the read
      }
      if (item) {
        // Expired: absent for us, so the channel starts over.
        try {
          await this.client.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...key, offset: 1, lastEventId: eventId, expiresAt },
              ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :nowSec',
              ExpressionAttributeValues: { ':nowSec': nowSeconds(this.clock) },
            }),
          );
          return { offset: 1, alreadyApplied: false };
        } catch (error) {
          if (!isConditionalCheckFailed(error)) throw error;
        }
      }
    }
    throw new Error(`Channel head ${key.pk} kept changing; gave up after ${String(ATTEMPTS)} attempts`);
  }

  // -------------------------------------------------------------------------------------------

  private async read(key: TableKey): Promise<Item | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return out.Item;
  }

  /**
   * The conditional update that mirrors decideJobUpdate: applied when the head is absent, or
   * when it is live, owned by the same user, not terminal, its last event is another one and
   * the update is not older. Undefined when the condition failed.
   */
  private async updateJob(
    key: TableKey,
    update: JobUpdateDetail,
    eventId: string,
    expiresAt: number,
  ): Promise<JobState | undefined> {
    const names: Record<string, string> = {
      '#status': 'status',
      '#ts': 'timestamp',
      '#offset': 'offset',
      '#progress': 'progress',
      '#message': 'message',
      '#error': 'error',
    };
    const values: Record<string, unknown> = {
      ':jobId': update.jobId,
      ':uid': update.userId,
      ':status': update.status,
      ':ts': update.timestamp,
      ':tsMs': Date.parse(update.timestamp),
      ':eid': eventId,
      ':now': this.clock.now(),
      ':exp': expiresAt,
      ':zero': 0,
      ':one': 1,
      ':nowSec': nowSeconds(this.clock),
    };
    const set = [
      'jobId = :jobId',
      'userId = :uid',
      '#status = :status',
      '#ts = :ts',
      'tsMs = :tsMs',
      'lastEventId = :eid',
      'updatedAt = :now',
      'expiresAt = :exp',
      '#offset = if_not_exists(#offset, :zero) + :one',
    ];
    const remove: string[] = [];
    const optional = { progress: update.progress, message: update.message, error: update.error };
    for (const [name, value] of Object.entries(optional)) {
      if (value === undefined) {
        remove.push(`#${name}`);
      } else {
        set.push(`#${name} = :${name}`);
        values[`:${name}`] = value;
      }
    }
    const terminal = TERMINAL.map((status, i) => {
      values[`:terminal${String(i)}`] = status;
      return `:terminal${String(i)}`;
    });
    let ordering = 'tsMs <= :tsMs';
    if (update.sequence !== undefined) {
      names['#seq'] = 'sequence';
      values[':seq'] = update.sequence;
      set.push('#seq = :seq');
      ordering = '((attribute_exists(#seq) AND #seq <= :seq) OR (attribute_not_exists(#seq) AND tsMs <= :tsMs))';
    }
    const condition =
      'attribute_not_exists(pk) OR (expiresAt > :nowSec AND userId = :uid' +
      ` AND NOT (#status IN (${terminal.join(', ')})) AND lastEventId <> :eid AND ${ordering})`;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      const state = out.Attributes && toJobState(out.Attributes);
      if (!state) throw new Error(`UpdateItem on ${key.pk} returned no job state`);
      return state;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
  }

  /** Overwrites an expired head with the job's first state; undefined if it changed meanwhile. */
  private async replaceExpiredJob(
    key: TableKey,
    update: JobUpdateDetail,
    eventId: string,
    expiresAt: number,
  ): Promise<JobState | undefined> {
    const state = nextJobState(undefined, update, eventId, this.clock.now(), expiresAt);
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, ...state, tsMs: Date.parse(state.timestamp) },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :nowSec',
          ExpressionAttributeValues: { ':nowSec': nowSeconds(this.clock) },
        }),
      );
      return state;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
  }
}

const STATUSES: ReadonlySet<string> = new Set(JOB_STATUSES);

/** The JobState of a head item, without internal attributes; undefined if it is not a job head. */
function toJobState(item: Item): JobState | undefined {
  if (typeof item['jobId'] !== 'string' || typeof item['status'] !== 'string' || !STATUSES.has(item['status'])) {
    return undefined;
  }
  const state: JobState = {
    jobId: item['jobId'],
    userId: item['userId'] as string,
    status: item['status'] as JobStatus,
    timestamp: item['timestamp'] as string,
    offset: item['offset'] as number,
    lastEventId: item['lastEventId'] as string,
    updatedAt: item['updatedAt'] as number,
    expiresAt: item['expiresAt'] as number,
  };
  if (typeof item['progress'] === 'number') state.progress = item['progress'];
  if (typeof item['message'] === 'string') state.message = item['message'];
  const error = item['error'] as { code?: unknown; message?: unknown } | undefined;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    state.error = { code: error.code, message: error.message };
  }
  if (typeof item['sequence'] === 'number') state.sequence = item['sequence'];
  return state;
}
