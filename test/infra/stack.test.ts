/**
 * The synthesised template, construct by construct: what each resource must say for the
 * service to work and be safe on AWS. (synth.test.ts covers bundling and cdk-nag.)
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TTL_ATTRIBUTE, tableDefinition } from '../../functions/adapters/dynamodb/table.ts';
import { DEVELOPMENT_JWT_SECRET } from '../../functions/config.ts';
import { CLIENT_ACTIONS, DETAIL_TYPES } from '../../functions/domain/messages.ts';
import { EVENTS_QUEUE_SETTINGS, HANDLERS, SSE_DEFAULT_MAX_DURATION_MS, type HandlerName } from '../../functions/handlers.ts';
import { resource, synthesise } from './support.ts';

type Json = Record<string, unknown>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

let template: Template;
let resources: Record<string, { Type: string; Properties: Json }>;

beforeAll(() => {
  ({ template } = synthesise());
  resources = template.toJSON()['Resources'] as typeof resources;
});

/** The logical id of the function deployed for `handler`. */
function functionId(handler: HandlerName): string {
  const found = Object.entries(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: HANDLERS[handler].functionName } }));
  expect(found).toHaveLength(1);
  return found[0]![0];
}
function functionProps(handler: HandlerName): Json {
  return resources[functionId(handler)]!.Properties;
}
function env(handler: HandlerName): Json {
  return (functionProps(handler)['Environment'] as { Variables: Json }).Variables;
}
/** The statements of the policies attached to the role of `handler`'s function. */
function statements(handler: HandlerName): Statement[] {
  const roleRef = functionProps(handler)['Role'] as { 'Fn::GetAtt': [string, string] };
  const roleId = roleRef['Fn::GetAtt'][0];
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    ((p as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles ?? []).some((r) => r.Ref === roleId),
  );
  return policies.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const allActions = (handler: HandlerName): string[] => statements(handler).flatMap(actionsOf);
const json = (value: unknown): string => JSON.stringify(value) ?? '';

const VPC_FUNCTIONS: HandlerName[] = ['connect', 'disconnect', 'message', 'fanout'];
const OUTSIDE_VPC: HandlerName[] = ['authorizer', 'sse'];
const ALL = Object.keys(HANDLERS) as HandlerName[];

describe('WebSocket API', () => {
  it('routes frames by $request.body.action', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
  });

  it('has $connect, $disconnect, $default and one route per client action, nothing else', () => {
    const keys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey);
    expect(keys.sort()).toEqual(['$connect', '$default', '$disconnect', ...CLIENT_ACTIONS].sort());
  });

  it('guards $connect with the REQUEST authorizer reading the token from the query string, and only $connect', () => {
    const authorizer = resource(template, 'AWS::ApiGatewayV2::Authorizer', 'WebSocket');
    expect(authorizer.r.Properties).toMatchObject({ AuthorizerType: 'REQUEST', IdentitySource: ['route.request.querystring.token'] });
    expect(json(authorizer.r.Properties['AuthorizerUri'])).toContain(functionId('authorizer'));
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$connect', AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizer.id } });
    for (const key of ['$disconnect', '$default', ...CLIENT_ACTIONS]) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: key, AuthorizationType: 'NONE' });
    }
  });

  it('sends each route to its function: connect, disconnect, and message for the rest', () => {
    const target = (key: string): string => {
      const route = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: key } }))[0] as { Properties: { Target: unknown } };
      const integrationId = /"Ref":"([^"]+)"/.exec(json(route.Properties.Target))![1]!;
      return json(resources[integrationId]!.Properties['IntegrationUri']);
    };
    expect(target('$connect')).toContain(functionId('connect'));
    expect(target('$disconnect')).toContain(functionId('disconnect'));
    for (const key of ['$default', ...CLIENT_ACTIONS]) expect(target(key)).toContain(functionId('message'));
  });

  it('deploys a stage with throttling and JSON access logs', () => {
    const stage = resource(template, 'AWS::ApiGatewayV2::Stage', 'WebSocket').r.Properties;
    expect(stage).toMatchObject({
      StageName: 'live',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
    });
    const logs = stage['AccessLogSettings'] as { DestinationArn: unknown; Format: string };
    expect(json(logs.DestinationArn)).toContain('WebSocketAccessLogs');
    expect(JSON.parse(logs.Format)).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey', status: '$context.status' });
  });

  it('lets API Gateway write its logs through the account role', () => {
    template.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: Match.anyValue() });
  });

  it('passes the management endpoint of this API and stage to every function that posts', () => {
    const apiId = resource(template, 'AWS::ApiGatewayV2::Api', 'WebSocket').id;
    for (const handler of VPC_FUNCTIONS) {
      const endpoint = json(env(handler)['WS_MANAGEMENT_ENDPOINT']);
      expect(endpoint).toContain(`"Ref":"${apiId}"`);
      expect(endpoint).toContain('.execute-api.');
      expect(endpoint).toContain('/live');
    }
  });
});

describe('DynamoDB table', () => {
  const table = (): Json => resource(template, 'AWS::DynamoDB::Table', 'Table').r.Properties;

  it('has the key design of the adapters', () => {
    const local = tableDefinition('x');
    expect(table()['KeySchema']).toEqual(local.KeySchema);
    expect(table()['AttributeDefinitions']).toEqual(local.AttributeDefinitions);
  });

  it('is on-demand, with TTL, point-in-time recovery and KMS encryption', () => {
    expect(table()).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      // SSEEnabled without a key id: KMS with the account's aws/dynamodb key.
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('outlives the stack', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('EventBridge bus, rules and queues', () => {
  const queueId = (): string => resource(template, 'AWS::SQS::Queue', 'EventsQueue').id;
  const dlqId = (): string => resource(template, 'AWS::SQS::Queue', 'EventsDeadLetterQueue').id;

  it('has one rule per detail-type the fan-out handles, on the bus, into the queue', () => {
    const busId = resource(template, 'AWS::Events::EventBus', 'Events').id;
    for (const detailType of Object.values(DETAIL_TYPES)) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: { Ref: busId },
        EventPattern: { 'detail-type': [detailType] },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [queueId(), 'Arn'] }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId(), 'Arn'] } } })],
      });
    }
    expect(Object.keys(template.findResources('AWS::Events::Rule'))).toHaveLength(Object.values(DETAIL_TYPES).length);
  });

  it('moves a message to the dead-letter queue after 5 receives', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(), 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(EVENTS_QUEUE_SETTINGS.maxReceiveCount).toBe(5);
  });

  it('keeps a message invisible for at least 6 times the fan-out timeout', () => {
    const visibility = resource(template, 'AWS::SQS::Queue', 'EventsQueue').r.Properties['VisibilityTimeout'] as number;
    expect(visibility).toBeGreaterThanOrEqual(6 * (functionProps('fanout')['Timeout'] as number));
  });

  it('encrypts both queues and refuses plain HTTP', () => {
    for (const id of [queueId(), dlqId()]) expect(resources[id]!.Properties['SqsManagedSseEnabled']).toBe(true);
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).map(json);
    for (const id of [queueId(), dlqId()]) {
      expect(policies.some((p) => p.includes(id) && p.includes('"aws:SecureTransport":"false"'))).toBe(true);
    }
  });

  it('lets EventBridge send to the queue only from these rules', () => {
    const policy = Object.values(template.findResources('AWS::SQS::QueuePolicy')).map(json).find((p) => p.includes('events.amazonaws.com') && p.includes(`"Ref":"${queueId()}"`));
    expect(policy).toContain('aws:SourceArn');
  });
});

describe('fan-out', () => {
  it('consumes the events queue in batches of 10, no window, partial batch responses, bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [resource(template, 'AWS::SQS::Queue', 'EventsQueue').id, 'Arn'] },
      FunctionName: { Ref: functionId('fanout') },
      BatchSize: EVENTS_QUEUE_SETTINGS.batchSize,
      MaximumBatchingWindowInSeconds: 0,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: EVENTS_QUEUE_SETTINGS.maxConcurrency },
    });
  });

  it('knows its queue and dead-letter queue', () => {
    expect(env('fanout')).toMatchObject({
      EVENTS_QUEUE_URL: { Ref: resource(template, 'AWS::SQS::Queue', 'EventsQueue').id },
      EVENTS_DLQ_URL: { Ref: resource(template, 'AWS::SQS::Queue', 'EventsDeadLetterQueue').id },
    });
  });
});

describe('SSE function', () => {
  it('is served by a function URL in RESPONSE_STREAM mode with CORS for GET', () => {
    template.hasResourceProperties('AWS::Lambda::Url', {
      TargetFunctionArn: { 'Fn::GetAtt': [functionId('sse'), 'Arn'] },
      InvokeMode: 'RESPONSE_STREAM',
      AuthType: 'NONE',
      Cors: Match.objectLike({ AllowMethods: ['GET'], AllowOrigins: ['*'], AllowHeaders: Match.arrayWith(['authorization', 'last-event-id']) }),
    });
  });

  it('runs 15 minutes and ends each stream cleanly before that', () => {
    expect(functionProps('sse')['Timeout']).toBe(15 * 60);
    const maxDuration = Number(env('sse')['SSE_MAX_DURATION_MS']);
    expect(maxDuration).toBe(SSE_DEFAULT_MAX_DURATION_MS);
    expect(maxDuration).toBeLessThan(15 * 60 * 1000);
  });

  it('tells the function which origins it serves, the same as the URL', () => {
    expect(env('sse')['CORS_ORIGINS']).toBe('*');
  });
});

describe('presence cache and network', () => {
  it('runs ElastiCache Serverless Valkey in the private subnets behind its own security group', () => {
    const cache = resource(template, 'AWS::ElastiCache::ServerlessCache', 'Presence').r.Properties;
    expect(cache).toMatchObject({ Engine: 'valkey', SecurityGroupIds: [{ 'Fn::GetAtt': [expect.stringMatching(/^PresenceSecurityGroup/), 'GroupId'] }] });
    expect(json(cache['SubnetIds'])).toMatch(/privateSubnet1.*privateSubnet2/);
  });

  it('accepts 6379 from the functions security group only', () => {
    const cacheSg = resource(template, 'AWS::EC2::SecurityGroup', 'PresenceSecurityGroup');
    const functionsSg = resource(template, 'AWS::EC2::SecurityGroup', 'NetworkFunctionsSecurityGroup');
    expect(cacheSg.r.Properties['SecurityGroupIngress']).toBeUndefined();
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => (r as { Properties: Json }).Properties);
    expect(ingress).toEqual([
      expect.objectContaining({
        GroupId: { 'Fn::GetAtt': [cacheSg.id, 'GroupId'] },
        SourceSecurityGroupId: { 'Fn::GetAtt': [functionsSg.id, 'GroupId'] },
        IpProtocol: 'tcp',
        FromPort: 6379,
        ToPort: 6379,
      }),
    ]);
  });

  it('gives the Redis functions a TLS cluster-mode URL of the cache', () => {
    for (const handler of VPC_FUNCTIONS) {
      const url = json(env(handler)['REDIS_URL']);
      expect(url).toContain('rediss://');
      expect(url).toContain('Endpoint.Address');
      expect(url).toContain('?cluster=true');
    }
  });

  it('puts exactly the Redis functions in the VPC; authorizer and SSE stay outside', () => {
    const functionsSg = resource(template, 'AWS::EC2::SecurityGroup', 'NetworkFunctionsSecurityGroup').id;
    for (const handler of VPC_FUNCTIONS) {
      const vpc = functionProps(handler)['VpcConfig'] as { SecurityGroupIds: unknown; SubnetIds: unknown };
      expect(vpc.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [functionsSg, 'GroupId'] }]);
      expect(json(vpc.SubnetIds)).toMatch(/privateSubnet1.*privateSubnet2/);
    }
    for (const handler of OUTSIDE_VPC) expect(functionProps(handler)['VpcConfig']).toBeUndefined();
  });

  it('routes the private subnets out through one NAT gateway, and DynamoDB through a gateway endpoint', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['.dynamodb'])] }),
    });
    template.hasResourceProperties('AWS::EC2::Route', { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: Match.anyValue() });
  });
});

describe('every function', () => {
  it.each(ALL)('%s: ARM64, Node.js 22, its handler timeout and memory, Powertools settings, source maps', (handler) => {
    expect(functionProps(handler)).toMatchObject({
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Timeout: HANDLERS[handler].timeoutSeconds,
      MemorySize: HANDLERS[handler].memoryMB,
      LoggingConfig: { LogGroup: expect.anything() },
    });
    expect(env(handler)).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'realtime',
      POWERTOOLS_METRICS_NAMESPACE: 'Realtime',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
      NODE_ENV: 'production',
    });
  });

  it('logs into its own log group, kept a month', () => {
    for (const handler of ALL) {
      const group = (functionProps(handler)['LoggingConfig'] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[group]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });
    }
  });

  it('never carries a JWT secret in the template: the verifiers get the Secrets Manager ARN and the IdP parameters', () => {
    const text = json(template.toJSON());
    expect(text).not.toContain(DEVELOPMENT_JWT_SECRET);
    for (const handler of ALL) expect(env(handler)['JWT_SECRET']).toBeUndefined();
    const secretId = resource(template, 'AWS::SecretsManager::Secret', 'Tokens').id;
    for (const handler of ['authorizer', 'sse'] as const) {
      expect(env(handler)).toMatchObject({
        JWT_SECRET_ARN: { Ref: secretId },
        JWT_JWKS_URL: { Ref: 'JwtJwksUrl' },
        JWT_ISSUER: { Ref: 'JwtIssuer' },
        JWT_AUDIENCE: { Ref: 'JwtAudience' },
      });
    }
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ PasswordLength: 64 }) });
    for (const name of ['JwtJwksUrl', 'JwtIssuer', 'JwtAudience']) template.hasParameter(name, { Type: 'String', Default: '' });
  });
});

describe('IAM', () => {
  const tableId = (): string => resource(template, 'AWS::DynamoDB::Table', 'Table').id;

  it('uses no AWS managed policy on any function role', () => {
    for (const handler of ALL) {
      const roleId = (functionProps(handler)['Role'] as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
      expect(resources[roleId]!.Properties['ManagedPolicyArns']).toBeUndefined();
    }
  });

  it('grants no wildcard resource except the network interfaces of the VPC functions', () => {
    for (const handler of ALL) {
      for (const s of statements(handler).filter((st) => json(st.Resource) === '"*"')) {
        expect(VPC_FUNCTIONS).toContain(handler);
        expect(actionsOf(s).every((a) => a.startsWith('ec2:') && a.includes('NetworkInterface') || a === 'ec2:DescribeSubnets' || a.endsWith('PrivateIpAddresses'))).toBe(true);
      }
    }
  });

  it('lets the VPC functions post and close connections on this API stage only', () => {
    const apiId = resource(template, 'AWS::ApiGatewayV2::Api', 'WebSocket').id;
    for (const handler of VPC_FUNCTIONS) {
      const s = statements(handler).find((st) => actionsOf(st).includes('execute-api:ManageConnections'))!;
      const arns = json(s.Resource);
      expect(arns).toContain(`"Ref":"${apiId}"`);
      expect(arns).toContain('/live/POST/@connections/*');
      expect(arns).toContain('/live/DELETE/@connections/*');
    }
    for (const handler of OUTSIDE_VPC) expect(allActions(handler)).not.toContain('execute-api:ManageConnections');
  });

  it('scopes table access to the table, read-only for SSE, none for the authorizer', () => {
    for (const handler of [...VPC_FUNCTIONS, 'sse'] as const) {
      const dynamo = statements(handler).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.length).toBeGreaterThan(0);
      for (const s of dynamo) expect(json(s.Resource)).toContain(tableId());
    }
    expect(allActions('sse').filter((a) => a.startsWith('dynamodb:'))).not.toEqual(expect.arrayContaining(['dynamodb:PutItem']));
    expect(allActions('sse')).not.toContain('dynamodb:PutItem');
    expect(allActions('sse')).not.toContain('dynamodb:DeleteItem');
    expect(allActions('message')).toContain('dynamodb:PutItem');
    expect(allActions('authorizer').some((a) => a.startsWith('dynamodb:'))).toBe(false);
  });

  it('lets only the token verifiers read the JWT secret', () => {
    const secretId = resource(template, 'AWS::SecretsManager::Secret', 'Tokens').id;
    for (const handler of ['authorizer', 'sse'] as const) {
      const s = statements(handler).find((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'))!;
      expect(s.Resource).toEqual({ Ref: secretId });
    }
    for (const handler of VPC_FUNCTIONS) expect(allActions(handler).some((a) => a.startsWith('secretsmanager:'))).toBe(false);
  });

  it('lets the fan-out send to its own queues only, and nobody else send to them', () => {
    const sends = statements('fanout').filter((s) => actionsOf(s).includes('sqs:SendMessage'));
    expect(sends.map((s) => s.Resource)).toEqual(
      expect.arrayContaining([
        { 'Fn::GetAtt': [resource(template, 'AWS::SQS::Queue', 'EventsQueue').id, 'Arn'] },
        { 'Fn::GetAtt': [resource(template, 'AWS::SQS::Queue', 'EventsDeadLetterQueue').id, 'Arn'] },
      ]),
    );
    for (const handler of ALL.filter((h) => h !== 'fanout')) expect(allActions(handler).some((a) => a.startsWith('sqs:'))).toBe(false);
  });

  it('lets each function write to its own log group only', () => {
    for (const handler of ALL) {
      const group = (functionProps(handler)['LoggingConfig'] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      const logs = statements(handler).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logs).toHaveLength(1);
      expect(json(logs[0]!.Resource)).toContain(group);
    }
  });
});

describe('alarms', () => {
  const alarms = (): Json[] => Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => (a as { Properties: Json }).Properties);

  it('fires when anything reaches the dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [resource(template, 'AWS::SQS::Queue', 'EventsDeadLetterQueue').id, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('fires when events wait too long in the queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [resource(template, 'AWS::SQS::Queue', 'EventsQueue').id, 'QueueName'] } }],
      Threshold: 120,
    });
  });

  it('fires on the fan-out error rate', () => {
    const alarm = alarms().find((a) => json(a['Metrics']).includes('100 * errors / invocations'))!;
    expect(json(alarm['Metrics'])).toContain(functionId('fanout'));
    expect(alarm['Threshold']).toBe(5);
  });

  it('fires on API execution errors and on SSE 5xx', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/ApiGateway', MetricName: 'ExecutionError' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Url5xxCount',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId('sse') } }],
    });
  });

  it('fires on a throttle of any function', () => {
    const alarm = alarms().find((a) => json(a['Metrics']).includes('Throttles'))!;
    for (const handler of ALL) expect(json(alarm['Metrics'])).toContain(functionId(handler));
    expect(alarm['Threshold']).toBe(1);
  });
});

describe('dashboard', () => {
  const body = (): string => json(resource(template, 'AWS::CloudWatch::Dashboard', 'Dashboard').r.Properties['DashboardBody']);

  it('shows the service metrics under the namespace and service dimension Powertools emits', () => {
    const text = body();
    for (const name of [
      'ConnectionsOpened',
      'ConnectionsClosed',
      'MessagesReceived',
      'MessagesDelivered',
      'DeliveryLatency',
      'StaleConnectionsPruned',
      'AuthFailures',
      'MessagesRateLimited',
      'ConnectionsRefused',
      'OriginRefused',
      'ConnectionsClosedForFlooding',
      'RateLimitFailOpen',
    ]) {
      expect(text).toContain(`[\\"Realtime\\",\\"${name}\\",\\"service\\",\\"realtime\\"`);
    }
    expect(text).toContain('RUNNING_SUM(FILL(opened, 0) - FILL(closed, 0))');
    expect(text).toMatch(/DeliveryLatency.*"stat\\":\\"p50/);
    expect(text).toMatch(/DeliveryLatency.*"stat\\":\\"p99/);
  });

  it('shows what AWS measures: function errors, throttles, durations, cold starts, queue age, DLQ depth, Redis health', () => {
    const text = body();
    for (const needle of ['Errors', 'Throttles', 'Duration', '@initDuration', 'ApproximateAgeOfOldestMessage', 'ApproximateNumberOfMessagesVisible', 'AWS/ElastiCache', 'ThrottledCmds', 'ElastiCacheProcessingUnits', 'AWS/ApiGateway']) {
      expect(text).toContain(needle);
    }
    // Redis widgets find the cache's metrics by its name.
    expect(text).toMatch(/SEARCH\('Namespace=[^']*ThrottledCmds[^']*realtime-presence/);
  });
});

describe('outputs', () => {
  it('gives the wss URL, the SSE URL, the bus name and the dashboard URL', () => {
    template.hasOutput('WebSocketUrl', { Value: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['wss://'])] }) });
    template.hasOutput('SseUrl', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SseFunctionFunctionUrl'), 'FunctionUrl'] } });
    template.hasOutput('EventBusName', { Value: { Ref: resource(template, 'AWS::Events::EventBus', 'Events').id } });
    template.hasOutput('DashboardUrl', { Value: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('#dashboards:name=realtime$')])] }) });
  });
});
