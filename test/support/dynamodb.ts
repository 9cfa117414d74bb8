/**
 * A real DynamoDB API for tests: an in-process dynalite (in memory) on a free port, with the
 * single table created from tableDefinition, and the real SDK client pointed at it.
 *
 * dynalite lacks transactions and TTL expiry (see /work/shared/TOOLCHAIN.md); the adapters
 * need neither, and the contract suites move a fake clock past `expiresAt` instead.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tableDefinition } from '../../functions/adapters/dynamodb/table.ts';

// dynalite ships no types: it returns an http.Server whose close() also closes its store.
const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: { createTableMs?: number }) => Server;

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBDocumentClient;
  tableName: string;
  close(): Promise<void>;
}

export async function startDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${String(port)}`;
  const raw = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const tableName = 'realtime';
  await raw.send(new CreateTableCommand(tableDefinition(tableName)));
  for (let i = 0; ; i++) {
    const { Table } = await raw.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (i >= 100) throw new Error(`Table ${tableName} did not become ACTIVE`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    endpoint,
    client,
    tableName,
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
