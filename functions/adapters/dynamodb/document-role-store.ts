/**
 * DocumentRoleStore on the single DynamoDB table: one item per (document, user),
 * `D#{documentId}` / `U#{userId}`, with `role`, `changedAt` (epoch ms of the change) and
 * `updatedAt` (epoch ms of the write).
 *
 * A revocation keeps the item as a tombstone (`role` removed, `changedAt` kept) so that an
 * older grant arriving late cannot bring access back. Tombstones expire after 30 days
 * (`expiresAt`); live roles carry no TTL. setRole is one conditional UpdateItem: applied when
 * the item is absent, is an expired tombstone, or has `changedAt` <= the change's (equal
 * timestamps: the later arrival wins). roleOf is a strongly consistent GetItem.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DOCUMENT_ROLES, type DocumentRole } from '../../domain/authorization.ts';
import { systemClock, type Clock, type DocumentRoleStore } from '../../domain/ports.ts';
import { documentRoleKey, isConditionalCheckFailed, live, nowSeconds } from './table.ts';

export interface DynamoDocumentRoleStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: Clock;
}

/** How long a revocation tombstone blocks older changes (seconds). */
export const ROLE_TOMBSTONE_TTL_SECONDS = 30 * 24 * 60 * 60;

const ROLES: ReadonlySet<string> = new Set(DOCUMENT_ROLES);

export class DynamoDocumentRoleStore implements DocumentRoleStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(options: DynamoDocumentRoleStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? systemClock;
  }

  async roleOf(documentId: string, userId: string): Promise<DocumentRole | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: documentRoleKey(documentId, userId), ConsistentRead: true }),
    );
    const role = live(out.Item, this.clock)?.['role'];
    return typeof role === 'string' && ROLES.has(role) ? (role as DocumentRole) : undefined;
  }

  async setRole(documentId: string, userId: string, role: DocumentRole | null, changedAt: number): Promise<boolean> {
    if (!Number.isFinite(changedAt)) throw new RangeError(`changedAt must be a finite number, got ${String(changedAt)}`);
    if (role !== null && !ROLES.has(role)) throw new RangeError(`Unknown document role: ${String(role)}`);
    const now = this.clock.now();
    const values: Record<string, unknown> = {
      ':changedAt': changedAt,
      ':now': now,
      ':nowSec': nowSeconds(this.clock),
    };
    let update: string;
    if (role === null) {
      values[':exp'] = Math.floor(now / 1000) + ROLE_TOMBSTONE_TTL_SECONDS;
      update = 'SET changedAt = :changedAt, updatedAt = :now, expiresAt = :exp REMOVE #role';
    } else {
      values[':role'] = role;
      update = 'SET #role = :role, changedAt = :changedAt, updatedAt = :now REMOVE expiresAt';
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: documentRoleKey(documentId, userId),
          UpdateExpression: update,
          // Only tombstones have expiresAt, so the last clause never matches a live role.
          ConditionExpression: 'attribute_not_exists(pk) OR changedAt <= :changedAt OR expiresAt <= :nowSec',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
