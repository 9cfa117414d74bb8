/**
 * ConnectionStore on the single DynamoDB table: one item `C#{connectionId}` / `META`.
 * Reads are strongly consistent and ignore an item whose TTL has passed.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type Clock, type ConnectionRecord, type ConnectionStore } from '../../domain/ports.ts';
import { keys, live } from './table.ts';

export interface DynamoConnectionStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: Clock;
}

export class DynamoConnectionStore implements ConnectionStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(options: DynamoConnectionStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? systemClock;
  }

  async put(connection: ConnectionRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.connection(connection.connectionId), ...toItem(connection) },
      }),
    );
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.connection(connectionId), ConsistentRead: true }),
    );
    const item = live(out.Item, this.clock);
    return item ? fromItem(item) : undefined;
  }

  async delete(connectionId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: keys.connection(connectionId) }));
  }
}

function toItem(c: ConnectionRecord): Record<string, unknown> {
  const item: Record<string, unknown> = {
    connectionId: c.connectionId,
    userId: c.userId,
    connectedAt: c.connectedAt,
    expiresAt: c.expiresAt,
  };
  if (c.name !== undefined) item['name'] = c.name;
  if (c.picture !== undefined) item['picture'] = c.picture;
  if (c.sourceIp !== undefined) item['sourceIp'] = c.sourceIp;
  if (c.userAgent !== undefined) item['userAgent'] = c.userAgent;
  return item;
}

function fromItem(item: Record<string, unknown>): ConnectionRecord {
  const c: ConnectionRecord = {
    connectionId: item['connectionId'] as string,
    userId: item['userId'] as string,
    connectedAt: item['connectedAt'] as number,
    expiresAt: item['expiresAt'] as number,
  };
  if (typeof item['name'] === 'string') c.name = item['name'];
  if (typeof item['picture'] === 'string') c.picture = item['picture'];
  if (typeof item['sourceIp'] === 'string') c.sourceIp = item['sourceIp'];
  if (typeof item['userAgent'] === 'string') c.userAgent = item['userAgent'];
  return c;
}
