import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDocumentRoleStore,
  ROLE_TOMBSTONE_TTL_SECONDS,
} from '../../functions/adapters/dynamodb/document-role-store.ts';
import { documentRoleKey } from '../../functions/adapters/dynamodb/table.ts';
import { MemoryDocumentRoleStore } from '../../functions/adapters/memory/document-role-store.ts';
import { FakeClock } from '../support/clock.ts';
import { startDynamo, type LocalDynamo } from '../support/dynamodb.ts';
import { uniqueId } from '../support/ids.ts';
import { describeDocumentRoleStoreContract } from './document-role-store.contract.ts';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

describeDocumentRoleStoreContract('memory', ({ clock }) => new MemoryDocumentRoleStore({ clock }));
describeDocumentRoleStoreContract(
  'DynamoDB',
  ({ clock }) => new DynamoDocumentRoleStore({ client: dynamo.client, tableName: dynamo.tableName, clock }),
);

describe('DynamoDocumentRoleStore items', () => {
  function setup() {
    const clock = new FakeClock();
    const store = new DynamoDocumentRoleStore({ client: dynamo.client, tableName: dynamo.tableName, clock });
    const documentId = uniqueId('doc');
    const userId = uniqueId('user');
    const read = async () =>
      (
        await dynamo.client.send(
          new GetCommand({ TableName: dynamo.tableName, Key: documentRoleKey(documentId, userId), ConsistentRead: true }),
        )
      ).Item;
    return { clock, store, documentId, userId, read };
  }

  it('stores a live role under D#{documentId} / U#{userId} without a TTL', async () => {
    const { clock, store, documentId, userId, read } = setup();
    await store.setRole(documentId, userId, 'editor', clock.now() - 5000);
    expect(await read()).toStrictEqual({
      pk: `D#${documentId}`,
      sk: `U#${userId}`,
      role: 'editor',
      changedAt: clock.now() - 5000,
      updatedAt: clock.now(),
    });
  });

  it('keeps a tombstone with changedAt and a 30-day TTL on revocation, and drops the TTL on a new grant', async () => {
    const { clock, store, documentId, userId, read } = setup();
    const t = clock.now();
    await store.setRole(documentId, userId, 'owner', t);
    await store.setRole(documentId, userId, null, t + 1000);
    expect(await read()).toStrictEqual({
      pk: `D#${documentId}`,
      sk: `U#${userId}`,
      changedAt: t + 1000,
      updatedAt: t,
      expiresAt: clock.inSeconds(ROLE_TOMBSTONE_TTL_SECONDS),
    });
    await store.setRole(documentId, userId, 'viewer', t + 2000);
    const item = await read();
    expect(item?.['role']).toBe('viewer');
    expect(item).not.toHaveProperty('expiresAt');
  });

  it('treats an item with an unknown role as no role', async () => {
    const { clock, store, documentId, userId } = setup();
    await dynamo.client.send(
      new PutCommand({
        TableName: dynamo.tableName,
        Item: { ...documentRoleKey(documentId, userId), role: 'admin', changedAt: clock.now(), updatedAt: clock.now() },
      }),
    );
    expect(await store.roleOf(documentId, userId)).toBeUndefined();
  });
});
