import { afterAll, beforeAll } from 'vitest';
import { DynamoEventLedger } from '../../functions/adapters/dynamodb/event-ledger.ts';
import { MemoryEventLedger } from '../../functions/adapters/memory/event-ledger.ts';
import { startDynamo, type LocalDynamo } from '../support/dynamodb.ts';
import { describeEventLedgerContract } from './event-ledger.contract.ts';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

describeEventLedgerContract('memory', ({ clock }) => new MemoryEventLedger({ clock }));
describeEventLedgerContract(
  'DynamoDB',
  ({ clock }) => new DynamoEventLedger({ client: dynamo.client, tableName: dynamo.tableName, clock }),
);
