/**
 * DynamoDB for the local runtime: dynalite in-process on an ephemeral 127.0.0.1 port, unless an
 * endpoint is given (DynamoDB Local, LocalStack, a real table...). Either way the table is
 * created when it is missing and the runtime waits until it is ACTIVE.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { RuntimeLog } from './log.ts';
import { errorMessageOf } from './util.ts';

export interface LocalDynamoOptions {
  /** An existing endpoint; when absent dynalite is started. */
  endpoint?: string;
  tableName: string;
  /** The CreateTable input (its TableName is replaced by `tableName`). */
  tableDefinition: CreateTableCommandInput;
  /** The TTL attribute to enable where the endpoint supports it (dynalite does not). */
  ttlAttribute?: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  log: RuntimeLog;
}

export interface LocalDynamo {
  endpoint: string;
  /** True when this runtime started dynalite (and will stop it). */
  embedded: boolean;
  tableName: string;
  client: DynamoDBClient;
  /** Throws unless the table answers DescribeTable with status ACTIVE. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalDynamo(options: LocalDynamoOptions): Promise<LocalDynamo> {
  const { log } = options;
  let server: Server | undefined;
  let endpoint = options.endpoint;
  if (!endpoint) {
    server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    const s = server;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    endpoint = `http://127.0.0.1:${String((s.address() as AddressInfo).port)}`;
    log.debug('dynalite started', { endpoint });
  }

  const client = new DynamoDBClient({
    endpoint,
    region: options.region,
    credentials: options.credentials,
    maxAttempts: 3,
  });
  const closeServer = async (): Promise<void> => {
    client.destroy();
    if (!server) return;
    const s = server;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  };

  try {
    await ensureTable(client, options, !server);
  } catch (error) {
    await closeServer();
    throw new Error(`Could not prepare DynamoDB table ${options.tableName} at ${endpoint}: ${errorMessageOf(error)}`, {
      cause: error,
    });
  }

  return {
    endpoint,
    embedded: server !== undefined,
    tableName: options.tableName,
    client,
    async check() {
      const out = await client.send(new DescribeTableCommand({ TableName: options.tableName }));
      const status = out.Table?.TableStatus;
      if (status !== 'ACTIVE') throw new Error(`table ${options.tableName} is ${status ?? 'missing'}`);
    },
    close: closeServer,
  };
}

async function ensureTable(client: DynamoDBClient, options: LocalDynamoOptions, external: boolean): Promise<void> {
  const { tableName, log } = options;
  let status = await tableStatus(client, tableName);
  if (status === undefined) {
    await client.send(new CreateTableCommand({ ...options.tableDefinition, TableName: tableName }));
    log.debug('table created', { table: tableName });
    if (external && options.ttlAttribute) {
      // DynamoDB Local and LocalStack support TTL; dynalite does not (the adapters filter expired items anyway).
      try {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: tableName,
            TimeToLiveSpecification: { AttributeName: options.ttlAttribute, Enabled: true },
          }),
        );
      } catch (error) {
        log.debug('TTL not enabled', { table: tableName, error: errorMessageOf(error) });
      }
    }
  }
  const deadline = Date.now() + 30_000;
  for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
    status = await tableStatus(client, tableName);
    if (status === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} stayed ${status ?? 'missing'}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function tableStatus(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return out.Table?.TableStatus ?? 'UNKNOWN';
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}
