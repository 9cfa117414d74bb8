/**
 * EventLedger on the single DynamoDB table: one item `E#{eventId}` / `EVT` with `status`
 * ('processing' | 'done'), `leaseUntil` (epoch ms), `assigned` (what the event became, once
 * applied) and `expiresAt`. A claim is a conditional UpdateItem that succeeds when the entry is
 * absent, expired, or a 'processing' lease that has run out; it keeps `assigned`, so a retry
 * publishes the same message instead of applying the event again.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type AssignedEvent, type ClaimOutcome, type Clock, type EventLedger } from '../../domain/ports.ts';
import { isConditionalCheckFailed, isExpired, keys, nowSeconds } from './table.ts';

export interface DynamoEventLedgerOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: Clock;
}

/** A failed claim whose entry vanished before we could read it is tried again this often. */
const CLAIM_ATTEMPTS = 3;

export class DynamoEventLedger implements EventLedger {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(options: DynamoEventLedgerOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? systemClock;
  }

  async claim(eventId: string, leaseMs: number, expiresAt: number): Promise<ClaimOutcome> {
    const key = keys.event(eventId);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const nowSec = nowSeconds(this.clock);
      try {
        const out = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET #status = :processing, leaseUntil = :lease, expiresAt = :exp',
            ConditionExpression:
              'attribute_not_exists(pk) OR expiresAt <= :nowSec OR (#status = :processing AND leaseUntil < :now)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':processing': 'processing',
              ':lease': now + leaseMs,
              ':exp': expiresAt,
              ':nowSec': nowSec,
              ':now': now,
            },
            ReturnValues: 'ALL_OLD',
          }),
        );
        const old = out.Attributes;
        if (!old?.['assigned']) return { status: 'claimed' };
        if (isExpired(old, this.clock)) {
          // An expired entry is absent: its assignment belongs to another life of the event id.
          await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: key, UpdateExpression: 'REMOVE assigned' }));
          return { status: 'claimed' };
        }
        return { status: 'claimed', assigned: old['assigned'] as AssignedEvent };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
      const item = out.Item;
      if (item && !isExpired(item, this.clock)) return { status: item['status'] === 'done' ? 'done' : 'busy' };
      // Expired between the write and the read: try again.
    }
    return { status: 'busy' };
  }

  async assign(eventId: string, assigned: AssignedEvent): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.event(eventId),
          UpdateExpression: 'SET assigned = :assigned',
          ConditionExpression: '#status = :processing',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':assigned': assigned, ':processing': 'processing' },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async complete(eventId: string, expiresAt: number): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...keys.event(eventId), status: 'done', expiresAt } }),
    );
  }

  async release(eventId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.event(eventId),
          UpdateExpression: 'SET leaseUntil = :zero',
          ConditionExpression: '#status = :processing',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':processing': 'processing', ':zero': 0 },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
