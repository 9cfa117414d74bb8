/**
 * EventLedger on the single DynamoDB table: one item `E#{eventId}` / `EVT` with `status`
 * ('processing' | 'done'), `leaseUntil` (epoch ms) and `expiresAt`. A claim is a conditional
 * PutItem that succeeds when the entry is absent, expired, or a 'processing' lease that has
 * run out.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type ClaimOutcome, type Clock, type EventLedger } from '../../domain/ports.ts';
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
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...key, status: 'processing', leaseUntil: now + leaseMs, expiresAt },
            ConditionExpression:
              'attribute_not_exists(pk) OR expiresAt <= :nowSec OR (#status = :processing AND leaseUntil < :now)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':nowSec': nowSeconds(this.clock), ':processing': 'processing', ':now': now },
          }),
        );
        return 'claimed';
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
      const item = out.Item;
      if (item && !isExpired(item, this.clock)) return item['status'] === 'done' ? 'done' : 'busy';
      // Released or expired between the write and the read: try again.
    }
    return 'busy';
  }

  async complete(eventId: string, expiresAt: number): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...keys.event(eventId), status: 'done', expiresAt } }),
    );
  }

  async release(eventId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.event(eventId),
          ConditionExpression: '#status = :processing',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':processing': 'processing' },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
