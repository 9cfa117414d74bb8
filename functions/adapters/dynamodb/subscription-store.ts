/**
 * SubscriptionStore on the single DynamoDB table, without transactions (dynalite lacks them).
 *
 * Each subscription is two items, `C#{connectionId}` / `S#{channel}` (the connection's view,
 * the source of truth for "exists") and `CH#{channel}` / `C#{connectionId}` (the channel's
 * view, paged by the fan-out), plus a per-connection counter `C#{connectionId}` / `SUBCOUNT`
 * whose `n` counts the connection's `S#` items and enforces the per-connection limit with a
 * conditional `ADD`.
 *
 * The counter counts items, and DynamoDB keeps expired items for up to two days (and deletes
 * them without touching the counter), so it can run ahead of the live subscriptions. When it
 * says "full", add() recounts: it deletes the connection's expired subscriptions, sets `n` to
 * the live count (guarded by the value it read) and tries again, so the limit is always
 * enforced against live subscriptions, as the memory adapter does.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import {
  systemClock,
  type AddSubscriptionOutcome,
  type Clock,
  type SubscriberPage,
  type Subscription,
  type SubscriptionStore,
} from '../../domain/ports.ts';
import {
  SUBSCRIBER_SK_PREFIX,
  SUBSCRIPTION_SK_PREFIX,
  batchWrite,
  channelPk,
  connectionPk,
  decodeCursor,
  encodeCursor,
  isConditionalCheckFailed,
  isExpired,
  keys,
  nowSeconds,
} from './table.ts';

export interface DynamoSubscriptionStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: Clock;
}

type Item = Record<string, unknown>;

/** Attempts of the counter update when a recount found room (concurrent adds may take it). */
const COUNT_ATTEMPTS = 3;

export class DynamoSubscriptionStore implements SubscriptionStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(options: DynamoSubscriptionStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? systemClock;
  }

  async add(subscription: Subscription, maxPerConnection: number): Promise<AddSubscriptionOutcome> {
    const { connectionId, channel } = subscription;
    // 1. The connection's item, unless a live one exists.
    let replaced: Item | undefined;
    try {
      const out = await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.subscription(connectionId, channel), ...toItem(subscription) },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :nowSec',
          ExpressionAttributeValues: { ':nowSec': nowSeconds(this.clock) },
          ReturnValues: 'ALL_OLD',
        }),
      );
      replaced = out.Attributes;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'exists';
      throw error;
    }
    // 2. Count it, unless it replaced an expired item that the counter already counts.
    if (!replaced && !(await this.count(subscription, maxPerConnection))) {
      await this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: keys.subscription(connectionId, channel) }),
      );
      return 'limit';
    }
    // 3. The channel's item.
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.subscriber(channel, connectionId), ...toItem(subscription) },
      }),
    );
    return 'added';
  }

  async remove(connectionId: string, channel: string): Promise<boolean> {
    const [out] = await Promise.all([
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.subscription(connectionId, channel),
          ReturnValues: 'ALL_OLD',
        }),
      ),
      this.client.send(new DeleteCommand({ TableName: this.tableName, Key: keys.subscriber(channel, connectionId) })),
    ]);
    const old = out.Attributes;
    if (!old) return false;
    // The counter counts items, expired or not.
    await this.decrement(connectionId);
    return !isExpired(old, this.clock);
  }

  async listByChannel(channel: string, options: { limit: number; cursor?: string }): Promise<SubscriberPage> {
    const pk = channelPk(channel);
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: 'expiresAt > :nowSec',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': SUBSCRIBER_SK_PREFIX, ':nowSec': nowSeconds(this.clock) },
        Limit: Math.max(1, Math.floor(options.limit)),
        ...(options.cursor === undefined ? {} : { ExclusiveStartKey: decodeCursor(options.cursor, pk) }),
      }),
    );
    const page: SubscriberPage = { items: (out.Items ?? []).map(fromItem) };
    if (out.LastEvaluatedKey) page.cursor = encodeCursor(out.LastEvaluatedKey);
    return page;
  }

  async listByConnection(connectionId: string): Promise<Subscription[]> {
    const items = await this.connectionItems(connectionId);
    return items.filter((item) => !isExpired(item, this.clock)).map(fromItem);
  }

  async removeConnection(connectionId: string): Promise<string[]> {
    const items = await this.connectionItems(connectionId);
    await batchWrite(this.client, this.tableName, [
      ...items.flatMap((item) => {
        const channel = item['channel'] as string;
        return [
          { DeleteRequest: { Key: keys.subscription(connectionId, channel) } },
          { DeleteRequest: { Key: keys.subscriber(channel, connectionId) } },
        ];
      }),
      { DeleteRequest: { Key: keys.subscriptionCount(connectionId) } },
    ]);
    return items.filter((item) => !isExpired(item, this.clock)).map((item) => item['channel'] as string);
  }

  // -------------------------------------------------------------------------------------------

  /** Every `S#` item of the connection, expired ones included, strongly consistent. */
  private async connectionItems(connectionId: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': connectionPk(connectionId), ':prefix': SUBSCRIPTION_SK_PREFIX },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** Counts a new subscription item; false when the connection has no room for it. */
  private async count(subscription: Subscription, max: number): Promise<boolean> {
    for (let attempt = 0; attempt < COUNT_ATTEMPTS; attempt++) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.subscriptionCount(subscription.connectionId),
            UpdateExpression: 'ADD n :one SET expiresAt = :exp',
            ConditionExpression: 'attribute_not_exists(n) OR n < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': max, ':exp': subscription.expiresAt },
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      if (!(await this.recount(subscription, max))) return false;
    }
    return false;
  }

  /**
   * The counter said "full": collect the connection's expired subscriptions and correct `n` to
   * the live subscriptions other than the one being added. True when that leaves room.
   */
  private async recount(subscription: Subscription, max: number): Promise<boolean> {
    const { connectionId } = subscription;
    const counter = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.subscriptionCount(connectionId), ConsistentRead: true }),
    );
    const observed = counter.Item?.['n'];
    const others = (await this.connectionItems(connectionId)).filter((i) => i['channel'] !== subscription.channel);
    let live = 0;
    for (const item of others) {
      if (!isExpired(item, this.clock) || !(await this.deleteExpired(connectionId, item['channel'] as string))) live++;
    }
    if (observed === live) return live < max;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscriptionCount(connectionId),
          UpdateExpression: 'SET n = :live',
          ConditionExpression: typeof observed === 'number' ? 'n = :observed' : 'attribute_not_exists(n)',
          ExpressionAttributeValues: {
            ':live': live,
            ...(typeof observed === 'number' ? { ':observed': observed } : {}),
          },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      // Changed meanwhile: the next attempt sees the new value.
    }
    return live < max;
  }

  /** Deletes an expired subscription (both items) unless it was renewed meanwhile. */
  private async deleteExpired(connectionId: string, channel: string): Promise<boolean> {
    const condition = {
      ConditionExpression: 'expiresAt <= :nowSec',
      ExpressionAttributeValues: { ':nowSec': nowSeconds(this.clock) },
    };
    try {
      await this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: keys.subscription(connectionId, channel), ...condition }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
    try {
      await this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: keys.subscriber(channel, connectionId), ...condition }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    return true;
  }

  private async decrement(connectionId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscriptionCount(connectionId),
          UpdateExpression: 'ADD n :minusOne',
          ConditionExpression: 'n > :zero',
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}

function toItem(s: Subscription): Item {
  return {
    connectionId: s.connectionId,
    channel: s.channel,
    userId: s.userId,
    subscribedAt: s.subscribedAt,
    expiresAt: s.expiresAt,
  };
}

function fromItem(item: Item): Subscription {
  return {
    connectionId: item['connectionId'] as string,
    channel: item['channel'] as string,
    userId: item['userId'] as string,
    subscribedAt: item['subscribedAt'] as number,
    expiresAt: item['expiresAt'] as number,
  };
}
