import { describe, expect, it } from 'vitest';
import { ASSUMPTIONS, costMarkdown, fixedCosts, scenarios, unitCost } from '../../bench/cost.ts';
import type { Counts, OpsResult } from '../../bench/ops.ts';
import { UNITS } from '../../bench/ops.ts';
import { PRICES } from '../../bench/prices.ts';

const counts = (c: Partial<Counts>): Counts => ({
  dynamodbRequests: 0,
  rcu: 0,
  wcu: 0,
  dynamodbByCommand: {},
  redisCommands: 0,
  redisSent: 0,
  managementCalls: 0,
  posts: 0,
  putEventsEntries: 0,
  sqsRequests: 0,
  apiGatewayMessages: 0,
  invocations: {},
  lambdaMs: {},
  ...c,
});

describe('the cost model', () => {
  it('prices each counted operation at its list price', () => {
    const b = unitCost(counts({ rcu: 2, wcu: 4, redisCommands: 10, sqsRequests: 3, putEventsEntries: 1, apiGatewayMessages: 5 }));
    expect(b.dynamodb).toBeCloseTo(2 * PRICES.dynamodbReadRequestUnits.usd + 4 * PRICES.dynamodbWriteRequestUnits.usd, 12);
    expect(b.redis).toBeCloseTo(10 * PRICES.elastiCacheValkeyEcpu.usd, 15);
    expect(b.sqs).toBeCloseTo(3 * PRICES.sqsRequests.usd, 12);
    expect(b.eventBridge).toBeCloseTo(PRICES.eventBridgeCustomEvents.usd, 12);
    expect(b.apiGateway).toBeCloseTo(5 * PRICES.apiGatewayWebSocketMessages.usd, 12);
    expect(b.lambda).toBe(0);
  });

  it('charges a Lambda invocation its request and its estimated GB-seconds', () => {
    // One fan-out invocation: 6 DynamoDB requests and 10 posts (one wave).
    const b = unitCost(counts({ dynamodbRequests: 6, managementCalls: 10, invocations: { fanout: 1 } }));
    const ms = ASSUMPTIONS.lambdaBaseMs + 6 * ASSUMPTIONS.dynamodbRequestMs + ASSUMPTIONS.postMs;
    const gbSeconds = (ASSUMPTIONS.lambdaMemoryMB.fanout / 1024) * (ms / 1000);
    expect(b.lambda).toBeCloseTo(PRICES.lambdaRequests.usd + gbSeconds * PRICES.lambdaArmGbSecond.usd, 12);
  });

  it('scales a unit to a million updates and sets AppSync Events beside it', () => {
    const units = Object.fromEntries(UNITS.map((u) => [u, counts({ apiGatewayMessages: 1 })])) as OpsResult['units'];
    const [one, ten, month] = scenarios({ repeat: 1, units });
    expect(one!.ours.apiGateway).toBeCloseTo(1e6 * PRICES.apiGatewayWebSocketMessages.usd, 6);
    expect(one!.appSync).toBeCloseTo(2, 6);
    expect(ten!.appSync).toBeCloseTo(11, 6);
    // 1,000 users for 30 days of connection minutes on API Gateway.
    expect(month!.connectionMinutes).toBeCloseTo(1000 * 30 * 24 * 60 * PRICES.apiGatewayWebSocketConnectionMinutes.usd, 6);
  });

  it('keeps the fixed costs at rest apart, NAT and the Valkey minimum included', () => {
    const fixed = fixedCosts();
    expect(fixed.find((f) => f.name.startsWith('NAT'))?.usd).toBeCloseTo(30 * 24 * PRICES.natGatewayHour.usd, 6);
    expect(fixed.find((f) => f.name.startsWith('ElastiCache'))?.usd).toBeCloseTo(0.1 * 30 * 24 * PRICES.elastiCacheValkeyStorageGbHour.usd, 6);
  });

  it('writes every price with its source and whether a stored page confirmed it', () => {
    const units = Object.fromEntries(UNITS.map((u) => [u, counts({})])) as OpsResult['units'];
    const md = costMarkdown({ repeat: 20, units }, new Date('2026-11-27T00:00:00Z'));
    for (const [name, price] of Object.entries(PRICES)) {
      expect(md).toContain(`\`${name}\``);
      expect(md).toContain(price.source);
    }
    expect(md).toContain('## Fixed costs at rest');
  });
});
