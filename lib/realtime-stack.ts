/**
 * The whole service in one stack. It only composes the constructs of lib/constructs/; each
 * construct documents its own choices. Environment-agnostic (no lookups), so it synthesises
 * without credentials or network.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { limitsEnvironment } from '../functions/config.ts';
import type { LimitsConfig } from '../functions/domain/limits.ts';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { RealtimeDashboard, type AlarmThresholds } from './constructs/dashboard.ts';
import { EventsPipeline } from './constructs/events-pipeline.ts';
import { Fanout } from './constructs/fanout.ts';
import { Network } from './constructs/network.ts';
import { PresenceCache } from './constructs/presence-cache.ts';
import type { ObservabilityProps } from './constructs/realtime-function.ts';
import { RealtimeTable } from './constructs/realtime-table.ts';
import { SseEndpoint } from './constructs/sse-endpoint.ts';
import { TokenSettings } from './constructs/token-settings.ts';
import { WebSocketApi } from './constructs/websocket-api.ts';

export interface RealtimeStackProps extends StackProps {
  /** Browser origins allowed to open a WebSocket (checked at `$connect`) or an SSE stream. @default ['*'] */
  readonly corsOrigins?: string[];
  /** NAT gateways for the functions in the VPC. @default 1 */
  readonly natGateways?: number;
  /** An existing Secrets Manager secret for HS256 tokens. @default one is generated */
  readonly jwtSecretArn?: string;
  /** Alarms notify this SNS topic. @default none (alarms show on the dashboard) */
  readonly alarmTopicArn?: string;
  /** WebSocket stage throttling. @default 1000/s, burst 2000 */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Abuse limits (per connection, per IP, per user) for the functions that enforce them.
   * @default DEFAULT_LIMITS of functions/domain/limits.ts (100-message bucket refilled at 10/s,
   *   100 new connections per IP a minute, 20 connections and 500 subscriptions per user)
   */
  readonly limits?: Partial<LimitsConfig>;
  readonly observability?: ObservabilityProps;
  readonly thresholds?: AlarmThresholds;
  /** Create API Gateway's account-wide logging role. @default true */
  readonly configureApiGatewayAccountLogging?: boolean;
}

export class RealtimeStack extends Stack {
  readonly table: RealtimeTable;
  readonly events: EventsPipeline;
  readonly network: Network;
  readonly presence: PresenceCache;
  readonly tokens: TokenSettings;
  readonly webSocket: WebSocketApi;
  readonly fanout: Fanout;
  readonly sse: SseEndpoint;
  readonly dashboard: RealtimeDashboard;

  constructor(scope: Construct, id: string, props: RealtimeStackProps = {}) {
    super(scope, id, props);
    const observability = props.observability ?? {};
    const corsOrigins = props.corsOrigins ?? ['*'];
    // connect checks Origin and the per-IP/per-user limits; message, disconnect and fan-out
    // take and free the slots and buckets.
    const limited = { CORS_ORIGINS: corsOrigins.join(','), ...limitsEnvironment(props.limits ?? {}) };

    this.table = new RealtimeTable(this, 'Table');
    this.events = new EventsPipeline(this, 'Events');
    this.network = new Network(this, 'Network', props.natGateways === undefined ? {} : { natGateways: props.natGateways });
    this.presence = new PresenceCache(this, 'Presence', { network: this.network });
    this.tokens = new TokenSettings(this, 'Tokens', props.jwtSecretArn ? { existingSecretArn: props.jwtSecretArn } : {});
    this.webSocket = new WebSocketApi(this, 'WebSocket', {
      table: this.table,
      tokens: this.tokens,
      network: this.network,
      presence: this.presence,
      observability,
      environment: limited,
      ...(props.throttle ? { throttle: props.throttle } : {}),
      ...(props.configureApiGatewayAccountLogging === undefined ? {} : { configureAccountLogging: props.configureApiGatewayAccountLogging }),
    });
    this.fanout = new Fanout(this, 'Fanout', {
      table: this.table,
      events: this.events,
      webSocket: this.webSocket,
      network: this.network,
      presence: this.presence,
      observability,
      environment: limited,
    });
    this.sse = new SseEndpoint(this, 'Sse', {
      table: this.table,
      tokens: this.tokens,
      corsOrigins,
      observability,
    });
    this.dashboard = new RealtimeDashboard(this, 'Dashboard', {
      webSocket: this.webSocket,
      fanout: this.fanout,
      sse: this.sse,
      events: this.events,
      presence: this.presence,
      observability,
      ...(props.thresholds ? { thresholds: props.thresholds } : {}),
      ...(props.alarmTopicArn ? { alarmTopic: sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) } : {}),
    });

    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocket.url, description: 'Connect with ?token=<jwt>' });
    new CfnOutput(this, 'SseUrl', { value: this.sse.url.url, description: 'GET ?channels=... with Authorization: Bearer <jwt>' });
    new CfnOutput(this, 'EventBusName', { value: this.events.bus.eventBusName, description: 'Workers PutEvents here' });
    new CfnOutput(this, 'EventBusArn', { value: this.events.bus.eventBusArn });
    new CfnOutput(this, 'DashboardUrl', { value: this.dashboard.url });
    new CfnOutput(this, 'JwtSecretArn', { value: this.tokens.secret.secretArn, description: 'HS256 signing secret (when no JWKS URL is set)' });

  }
}
