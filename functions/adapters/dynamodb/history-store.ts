/**
 * HistoryStore on the single DynamoDB table: one item per message, `H#{channel}` / the offset
 * zero-padded to 15 digits (so the sort key orders like the number), with the message as a
 * map. Reads skip expired messages.
 */
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ChannelMessage } from '../../domain/messages.ts';
import { systemClock, type Clock, type HistoryStore } from '../../domain/ports.ts';
import { historyPk, keys, nowSeconds, padOffset } from './table.ts';

export interface DynamoHistoryStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: Clock;
}

export class DynamoHistoryStore implements HistoryStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(options: DynamoHistoryStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? systemClock;
  }

  async append(channel: string, message: ChannelMessage, expiresAt: number): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.history(channel, message.offset), message, offset: message.offset, expiresAt },
      }),
    );
  }

  async readAfter(channel: string, after: number, limit: number): Promise<ChannelMessage[]> {
    const messages: ChannelMessage[] = [];
    if (limit < 1) return messages;
    let start: Record<string, unknown> | undefined;
    // The filter drops expired messages after Limit applies, so keep reading while short.
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk > :after',
          FilterExpression: 'expiresAt > :nowSec',
          ExpressionAttributeValues: {
            ':pk': historyPk(channel),
            ':after': padOffset(Math.max(0, Math.floor(after))),
            ':nowSec': nowSeconds(this.clock),
          },
          Limit: limit - messages.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of out.Items ?? []) messages.push(item['message'] as ChannelMessage);
      start = out.LastEvaluatedKey;
    } while (start && messages.length < limit);
    return messages;
  }
}
