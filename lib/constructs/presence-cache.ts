/**
 * ElastiCache Serverless (Valkey) for presence. It is cluster-mode and TLS-only, hence
 * `REDIS_URL=rediss://{endpoint}:{port}?cluster=true` (functions/adapters/redis/client.ts).
 * Reachable on 6379 from the functions' security group only; no AUTH (the default user): the
 * network is the boundary, and presence holds nothing secret (names, colours, cursors).
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import { Construct } from 'constructs';
import type { Network } from './network.ts';

export interface PresenceCacheProps {
  readonly network: Network;
  /** @default 'realtime-presence' */
  readonly cacheName?: string;
  /** Ceiling of stored data, in GB: a cost guard (presence is a few KB per document). @default 1 */
  readonly maxDataStorageGb?: number;
  /** Ceiling of ElastiCache Processing Units per second: a cost guard. @default 100000 */
  readonly maxEcpuPerSecond?: number;
}

/** The port of the primary endpoint. */
export const CACHE_PORT = 6379;

export class PresenceCache extends Construct {
  readonly cache: elasticache.CfnServerlessCache;
  readonly securityGroup: ec2.SecurityGroup;
  readonly cacheName: string;

  constructor(scope: Construct, id: string, props: PresenceCacheProps) {
    super(scope, id);
    const { network } = props;
    this.cacheName = props.cacheName ?? 'realtime-presence';
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: network.vpc,
      description: 'Presence cache: Redis protocol from the functions only',
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(network.functionsSecurityGroup, ec2.Port.tcp(CACHE_PORT), 'Redis (TLS) from the functions');
    this.cache = new elasticache.CfnServerlessCache(this, 'Cache', {
      serverlessCacheName: this.cacheName,
      engine: 'valkey',
      majorEngineVersion: '8',
      description: 'realtime presence (members, cursors, rate limits)',
      securityGroupIds: [this.securityGroup.securityGroupId],
      subnetIds: network.vpc.selectSubnets(network.privateSubnets).subnetIds,
      cacheUsageLimits: {
        dataStorage: { maximum: props.maxDataStorageGb ?? 1, unit: 'GB' },
        ecpuPerSecond: { maximum: props.maxEcpuPerSecond ?? 100_000 },
      },
      // No daily snapshot is configured: presence rebuilds itself within seconds (clients
      // ping every 15 s), so there is nothing worth restoring.
    });
  }

  /** `REDIS_URL` for the handlers: TLS and cluster mode, as ElastiCache Serverless requires. */
  bind(): Record<string, string> {
    return { REDIS_URL: `rediss://${this.cache.attrEndpointAddress}:${this.cache.attrEndpointPort}?cluster=true` };
  }
}
