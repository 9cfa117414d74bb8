/**
 * The CDK app (`cdk.json` runs it with tsx): one RealtimeStack, checked by cdk-nag's
 * AwsSolutions pack. Settings come from context (`cdk deploy -c natGateways=2`, or cdk.json):
 *   stackName (default Realtime), corsOrigins (comma list), natGateways, jwtSecretArn,
 *   alarmTopicArn, logLevel, and any abuse limit by its key in LimitsConfig
 *   (`-c maxConnectionsPerUser=50`; see LIMIT_ENV in functions/config.ts).
 * Identity provider settings are CloudFormation parameters (JwtJwksUrl, JwtIssuer, JwtAudience).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LIMIT_ENV } from '../functions/config.ts';
import type { LimitsConfig } from '../functions/domain/limits.ts';
import { RealtimeStack, type RealtimeStackProps } from './realtime-stack.ts';

/** `nag: false` leaves cdk-nag out of synthesis (tests that run its checks themselves). */
export function buildApp(app: App = new App(), options: { nag?: boolean } = {}): { app: App; stack: RealtimeStack } {
  const context = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === null || value === '' ? undefined : String(value);
  };
  const props: RealtimeStackProps = { description: 'realtime: WebSocket + SSE delivery, presence, notifications' };
  const corsOrigins = context('corsOrigins');
  const natGateways = context('natGateways');
  const jwtSecretArn = context('jwtSecretArn');
  const alarmTopicArn = context('alarmTopicArn');
  const logLevel = context('logLevel');
  const limits: Partial<LimitsConfig> = {};
  for (const key of Object.keys(LIMIT_ENV) as (keyof LimitsConfig)[]) {
    const value = context(key);
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`context ${key} must be a positive integer, got ${value}`);
    limits[key] = n;
  }
  const stack = new RealtimeStack(app, context('stackName') ?? 'Realtime', {
    ...props,
    ...(corsOrigins ? { corsOrigins: corsOrigins.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(natGateways ? { natGateways: Number(natGateways) } : {}),
    ...(jwtSecretArn ? { jwtSecretArn } : {}),
    ...(alarmTopicArn ? { alarmTopicArn } : {}),
    ...(logLevel ? { observability: { logLevel } } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

// Run as the app (cdk synth / deploy), not when a test imports buildApp.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  buildApp().app.synth();
}
