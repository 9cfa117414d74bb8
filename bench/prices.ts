/**
 * AWS list prices for the cost model (bench/cost.ts → docs/cost.md), in one place, with where
 * they come from. Region us-east-1 (N. Virginia), on-demand, no free tier, no Savings Plans.
 *
 * There is no internet on the machine that wrote this: the prices were read on 2026-11-27 from
 * stored copies of public pages (AWS pricing pages where stored, otherwise secondary sources
 * that quote them), listed per entry. `confirmed: false` marks a price no stored page states
 * plainly for this region; check those on the AWS pricing pages before relying on them.
 */

export interface Price {
  usd: number;
  unit: string;
  source: string;
  confirmed: boolean;
  note?: string;
}

export const PRICES_READ_ON = '2026-11-27';
export const REGION = 'us-east-1';

export const PRICES = {
  apiGatewayWebSocketMessages: {
    usd: 1.0 / 1e6,
    unit: 'message (first billion a month; metered in 32 KB increments, both directions)',
    source: 'https://awsforengineers.com/blog/aws-api-gateway-pricing-explained (quotes https://aws.amazon.com/api-gateway/pricing/)',
    confirmed: true,
  },
  apiGatewayWebSocketConnectionMinutes: {
    usd: 0.25 / 1e6,
    unit: 'connection minute',
    source: 'https://aws.amazon.com/api-gateway/pricing/ (the stored pages name the meter; $0.25 per million is the published rate as last known)',
    confirmed: false,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second, Arm (first 7.5 billion GB-s a month)',
    source: 'https://cloudchipr.com/blog/aws-lambda-pricing (quotes https://aws.amazon.com/lambda/pricing/)',
    confirmed: true,
  },
  lambdaRequests: {
    usd: 0.2 / 1e6,
    unit: 'request',
    source: 'https://cloudchipr.com/blog/aws-lambda-pricing',
    confirmed: true,
  },
  dynamodbWriteRequestUnits: {
    usd: 0.625 / 1e6,
    unit: 'write request unit (on-demand, standard table class)',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing (after the November 2024 on-demand price cut)',
    confirmed: true,
    note: 'older pages still show $1.25 per million',
  },
  dynamodbReadRequestUnits: {
    usd: 0.125 / 1e6,
    unit: 'read request unit (on-demand)',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    confirmed: true,
    note: 'older pages still show $0.25 per million',
  },
  dynamodbStorageGbMonth: {
    usd: 0.25,
    unit: 'GB-month (first 25 GB free, not applied)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ (as last known)',
    confirmed: false,
  },
  sqsRequests: {
    usd: 0.4 / 1e6,
    unit: 'request, standard queue (each 64 KB chunk of a payload is a request)',
    source: 'https://aws.amazon.com/sqs/pricing/ (as last known)',
    confirmed: false,
  },
  eventBridgeCustomEvents: {
    usd: 1.0 / 1e6,
    unit: 'custom event published (64 KB chunks)',
    source: 'https://aws.amazon.com/eventbridge/pricing/ (as last known)',
    confirmed: false,
  },
  elastiCacheValkeyEcpu: {
    usd: 0.0023 / 1e6,
    unit: 'ECPU, ElastiCache Serverless for Valkey (1 ECPU per KB transferred by a simple command)',
    source: 'https://www.usage.ai/blogs/aws/database-savings-plans/elasticache/serverless-pricing/ (June 2026; AWS Database Blog and pump.co)',
    confirmed: true,
  },
  elastiCacheValkeyStorageGbHour: {
    usd: 0.084,
    unit: 'GB-hour of data stored, ElastiCache Serverless for Valkey',
    source: 'https://www.usage.ai/blogs/aws/database-savings-plans/elasticache/serverless-pricing/',
    confirmed: true,
  },
  elastiCacheValkeyMinimumGb: {
    usd: 0.1,
    unit: 'GB metered at least (Valkey: 100 MB; Redis OSS: 1 GB)',
    source: 'https://www.usage.ai/blogs/aws/database-savings-plans/elasticache/serverless/',
    confirmed: true,
  },
  natGatewayHour: {
    usd: 0.045,
    unit: 'NAT gateway hour',
    source: 'https://basavytix.com/blog/aws-nat-gateway-pricing',
    confirmed: true,
  },
  natGatewayGb: {
    usd: 0.045,
    unit: 'GB processed by a NAT gateway',
    source: 'https://basavytix.com/blog/aws-nat-gateway-pricing',
    confirmed: true,
  },
  cloudWatchCustomMetricMonth: {
    usd: 0.3,
    unit: 'custom metric a month (first 10,000; EMF metrics are custom metrics)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/ (as last known)',
    confirmed: false,
  },
  cloudWatchLogsIngestionGb: {
    usd: 0.5,
    unit: 'GB of logs ingested (standard class)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/ (as last known)',
    confirmed: false,
  },
  appSyncEventsOperations: {
    usd: 1.0 / 1e6,
    unit: 'AppSync Events API operation (a publish, each message delivered to a subscriber, connect and subscribe requests; 5 KB increments)',
    source: 'https://aws.amazon.com/appsync/pricing/ (stored copy shows the GraphQL real-time rates: $2.00 per million updates, $0.08 per million connection minutes; the Events rate is as last known)',
    confirmed: false,
  },
  appSyncEventsConnectionMinutes: {
    usd: 0.08 / 1e6,
    unit: 'AppSync connection minute',
    source: 'https://aws.amazon.com/ar/appsync/pricing/ (stored copy, read 2026-11-27)',
    confirmed: true,
  },
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof PRICES;
