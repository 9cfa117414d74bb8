import { afterAll, beforeAll } from 'vitest';
import { DynamoHistoryStore } from '../../functions/adapters/dynamodb/history-store.ts';
import { MemoryHistoryStore } from '../../functions/adapters/memory/history-store.ts';
import { startDynamo, type LocalDynamo } from '../support/dynamodb.ts';
import { describeHistoryStoreContract } from './history-store.contract.ts';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

describeHistoryStoreContract('memory', ({ clock }) => new MemoryHistoryStore({ clock }));
describeHistoryStoreContract(
  'DynamoDB',
  ({ clock }) => new DynamoHistoryStore({ client: dynamo.client, tableName: dynamo.tableName, clock }),
);
