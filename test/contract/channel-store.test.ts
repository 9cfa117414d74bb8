import { afterAll, beforeAll } from 'vitest';
import { DynamoChannelStore } from '../../functions/adapters/dynamodb/channel-store.ts';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { startDynamo, type LocalDynamo } from '../support/dynamodb.ts';
import { describeChannelStoreContract } from './channel-store.contract.ts';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

describeChannelStoreContract('memory', ({ clock }) => new MemoryChannelStore({ clock }));
describeChannelStoreContract(
  'DynamoDB',
  ({ clock }) => new DynamoChannelStore({ client: dynamo.client, tableName: dynamo.tableName, clock }),
);
