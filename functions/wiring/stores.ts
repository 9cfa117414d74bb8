/** The DynamoDB table and its stores, for the handlers that use them. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoChannelStore } from '../adapters/dynamodb/channel-store.ts';
import { DynamoConnectionStore } from '../adapters/dynamodb/connection-store.ts';
import { DynamoDocumentRoleStore } from '../adapters/dynamodb/document-role-store.ts';
import { DynamoSubscriptionStore } from '../adapters/dynamodb/subscription-store.ts';
import { systemClock } from '../domain/ports.ts';
import { config, once, requestHandler } from './common.ts';

export const clock = systemClock;

export const table = () =>
  once('table', () => {
    const { dynamodbEndpoint, tableName } = config();
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient({ ...(dynamodbEndpoint ? { endpoint: dynamodbEndpoint } : {}), requestHandler: requestHandler(64) }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    return { client, tableName, clock };
  });

export const subscriptions = () => once('subscriptions', () => new DynamoSubscriptionStore(table()));
export const connections = () => once('connections', () => new DynamoConnectionStore(table()));
export const channels = () => once('channels', () => new DynamoChannelStore(table()));
export const documentRoles = () => once('documentRoles', () => new DynamoDocumentRoleStore(table()));
