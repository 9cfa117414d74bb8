import { afterAll, beforeAll } from 'vitest';
import { DynamoConnectionStore } from '../../functions/adapters/dynamodb/connection-store.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { startDynamo, type LocalDynamo } from '../support/dynamodb.ts';
import { describeConnectionStoreContract } from './connection-store.contract.ts';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

describeConnectionStoreContract('memory', ({ clock }) => new MemoryConnectionStore({ clock }));
describeConnectionStoreContract(
  'DynamoDB',
  ({ clock }) => new DynamoConnectionStore({ client: dynamo.client, tableName: dynamo.tableName, clock }),
);
