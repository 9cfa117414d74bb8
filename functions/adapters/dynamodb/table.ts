/**
 * The single DynamoDB table behind every DynamoDB adapter: its key layout, its definition
 * and the small helpers the adapters share.
 *
 * Layout (`pk`, `sk` are strings; `expiresAt` is the TTL attribute, epoch seconds):
 *   C#{connectionId}  META           the connection (ConnectionRecord fields)
 *   C#{connectionId}  S#{channel}    a subscription, seen from the connection
 *   C#{connectionId}  SUBCOUNT       `n`: the connection's subscription items
 *   CH#{channel}      C#{connectionId}  a subscriber, seen from the channel
 *   CH#{channel}      #HEAD          the channel head (a JobState for `jobs.{id}`; else
 *                                    `offset` and `lastEventId`)
 *   H#{channel}       {offset, 15 digits}  a history message
 *   E#{eventId}       EVT            the event ledger entry
 *
 * DynamoDB deletes expired items up to two days late (dynalite never does), so every read
 * treats an item whose `expiresAt` <= now as absent. No transactions: dynalite lacks them.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../domain/ports.ts';

export const TTL_ATTRIBUTE = 'expiresAt';

// A type alias (not an interface) so a key is assignable to Record<string, unknown>.
export type TableKey = { pk: string; sk: string };

export const OFFSET_DIGITS = 15;
export const padOffset = (offset: number): string => String(offset).padStart(OFFSET_DIGITS, '0');

export const HEAD_SK = '#HEAD';
export const CONNECTION_SK = 'META';
export const SUBCOUNT_SK = 'SUBCOUNT';
export const SUBSCRIPTION_SK_PREFIX = 'S#';
export const SUBSCRIBER_SK_PREFIX = 'C#';

export const connectionPk = (connectionId: string): string => `C#${connectionId}`;
export const channelPk = (channel: string): string => `CH#${channel}`;
export const historyPk = (channel: string): string => `H#${channel}`;
export const eventPk = (eventId: string): string => `E#${eventId}`;

export const keys = {
  connection: (connectionId: string): TableKey => ({ pk: connectionPk(connectionId), sk: CONNECTION_SK }),
  subscription: (connectionId: string, channel: string): TableKey => ({
    pk: connectionPk(connectionId),
    sk: `${SUBSCRIPTION_SK_PREFIX}${channel}`,
  }),
  subscriptionCount: (connectionId: string): TableKey => ({ pk: connectionPk(connectionId), sk: SUBCOUNT_SK }),
  subscriber: (channel: string, connectionId: string): TableKey => ({
    pk: channelPk(channel),
    sk: `${SUBSCRIBER_SK_PREFIX}${connectionId}`,
  }),
  channelHead: (channel: string): TableKey => ({ pk: channelPk(channel), sk: HEAD_SK }),
  history: (channel: string, offset: number): TableKey => ({ pk: historyPk(channel), sk: padOffset(offset) }),
  event: (eventId: string): TableKey => ({ pk: eventPk(eventId), sk: 'EVT' }),
};

/** The table: on-demand, `pk`/`sk` string keys. TTL on `expiresAt` is enabled separately
 * (UpdateTimeToLive, or the infrastructure code); dynalite does not support it. */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
  };
}

/** Now in epoch seconds, the unit of `expiresAt` (not rounded: `expiresAt <= nowSeconds` is expiry). */
export const nowSeconds = (clock: Clock): number => clock.now() / 1000;

/** Whether an item's TTL has passed; an item without `expiresAt` never expires. */
export function isExpired(item: Record<string, unknown>, clock: Clock): boolean {
  const expiresAt = item[TTL_ATTRIBUTE];
  return typeof expiresAt === 'number' && expiresAt <= nowSeconds(clock);
}

/** The item if it is present and unexpired. */
export function live<T extends Record<string, unknown>>(item: T | undefined, clock: Clock): T | undefined {
  return item && !isExpired(item, clock) ? item : undefined;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

export type WriteRequest =
  | { PutRequest: { Item: Record<string, unknown> } }
  | { DeleteRequest: { Key: Record<string, unknown> } };

const BATCH_SIZE = 25;
const BATCH_ATTEMPTS = 8;

/** BatchWriteItem in chunks of 25, retrying UnprocessedItems with a short backoff. */
export async function batchWrite(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_SIZE) {
    let pending: WriteRequest[] = requests.slice(i, i + BATCH_SIZE);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= BATCH_ATTEMPTS) {
        throw new Error(`BatchWriteItem left ${String(pending.length)} items unprocessed on ${tableName}`);
      }
      if (attempt > 0) await delay(Math.min(1000, 25 * 2 ** attempt));
      const out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (out.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
    }
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Opaque page cursors: base64url JSON of a LastEvaluatedKey. */
export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, expectedPk: string): TableKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new Error('Invalid page cursor', { cause });
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    typeof (parsed as TableKey).pk !== 'string' ||
    typeof (parsed as TableKey).sk !== 'string' ||
    (parsed as TableKey).pk !== expectedPk
  ) {
    throw new Error('Invalid page cursor');
  }
  return { pk: (parsed as TableKey).pk, sk: (parsed as TableKey).sk };
}

// Document roles (DynamoDocumentRoleStore):
//   D#{documentId}    U#{userId}     a user's role on a document: `role` (absent on a
//                                    revocation tombstone), `changedAt`, `updatedAt`;
//                                    only tombstones carry `expiresAt`
export const DOCUMENT_ROLE_SK_PREFIX = 'U#';
export const documentPk = (documentId: string): string => `D#${documentId}`;
export const documentRoleKey = (documentId: string, userId: string): TableKey => ({
  pk: documentPk(documentId),
  sk: `${DOCUMENT_ROLE_SK_PREFIX}${userId}`,
});
