import { afterAll, beforeAll } from 'vitest';
import { DynamoChannelStore } from '../../functions/adapters/dynamodb/channel-store.ts';
import { DynamoSubscriptionStore } from '../../functions/adapters/dynamodb/subscription-store.ts';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { startDynamo, type LocalDynamo } from '../support/dynamodb.ts';
import { describeSubscriptionStoreContract } from './subscription-store.contract.ts';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

describeSubscriptionStoreContract('memory', ({ clock }) => ({
  subscriptions: new MemorySubscriptionStore({ clock }),
  channels: new MemoryChannelStore({ clock }),
}));
describeSubscriptionStoreContract('DynamoDB', ({ clock }) => {
  const options = { client: dynamo.client, tableName: dynamo.tableName, clock };
  return { subscriptions: new DynamoSubscriptionStore(options), channels: new DynamoChannelStore(options) };
});
