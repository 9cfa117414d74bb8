/**
 * The API Gateway WebSocket API: `$connect` behind the REQUEST authorizer (token from the
 * query string), `$disconnect`, `$default` and one route per client action, all on Lambda,
 * and a stage with throttling and JSON access logs. The four functions live here; the three
 * that use presence sit in the VPC.
 */
import { CfnElement, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CLIENT_ACTIONS } from '../../functions/domain/messages.ts';
import type { Network } from './network.ts';
import type { PresenceCache } from './presence-cache.ts';
import { RealtimeFunction, type ObservabilityProps } from './realtime-function.ts';
import type { RealtimeTable } from './realtime-table.ts';
import type { TokenSettings } from './token-settings.ts';

/** The query-string parameter that carries the JWT (the local gateway reads the same). */
export const TOKEN_QUERY_PARAMETER = 'token';
/** Message routes besides `$default`, selected by `$request.body.action`. */
export const MESSAGE_ROUTES = CLIENT_ACTIONS;

export interface WebSocketApiProps {
  readonly table: RealtimeTable;
  readonly tokens: TokenSettings;
  readonly network: Network;
  readonly presence: PresenceCache;
  readonly observability?: ObservabilityProps;
  /** @default 'live' */
  readonly stageName?: string;
  /**
   * Throttling of the stage's routes (the default route settings, so each route, `$connect`
   * included, gets this steady rate per second and burst): a ceiling against floods, far
   * above normal traffic. Per-connection limits are the router's. @default 1000/s, burst 2000
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Create the account-wide role that lets API Gateway write logs (AWS::ApiGateway::Account,
   * one per account and region; WebSocket access logs need it). Set false when another stack
   * already manages it. @default true
   */
  readonly configureAccountLogging?: boolean;
  /** Extra environment for every function here. */
  readonly environment?: Record<string, string>;
  readonly namePrefix?: string;
}

export class WebSocketApi extends Construct {
  readonly api: apigwv2.WebSocketApi;
  readonly stage: apigwv2.WebSocketStage;
  readonly accessLogs: logs.LogGroup;
  readonly authorizer: RealtimeFunction;
  readonly connect: RealtimeFunction;
  readonly disconnect: RealtimeFunction;
  readonly message: RealtimeFunction;
  readonly stageName: string;
  /** `https://{api}.execute-api.{region}.amazonaws.com/{stage}`: the `@connections` endpoint. */
  readonly managementEndpoint: string;

  constructor(scope: Construct, id: string, props: WebSocketApiProps) {
    super(scope, id);
    const stageName = (this.stageName = props.stageName ?? 'live');
    const common = { observability: props.observability ?? {}, namePrefix: props.namePrefix ?? '' };

    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      apiName: `${common.namePrefix}realtime`,
      routeSelectionExpression: '$request.body.action',
    });
    // The endpoint is known before the stage exists: functions and stage do not depend on each other.
    const managementEndpoint = (this.managementEndpoint = `https://${this.api.apiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${stageName}`);

    this.authorizer = new RealtimeFunction(this, 'Authorizer', {
      ...common,
      handler: 'authorizer',
      environment: { ...props.tokens.bind(), ...props.environment },
    });
    props.tokens.grantRead(this.authorizer.function);

    const inVpc = (handler: 'connect' | 'disconnect' | 'message', fnId: string): RealtimeFunction => {
      const fn = new RealtimeFunction(this, fnId, {
        ...common,
        handler,
        vpc: props.network.bind(),
        environment: {
          ...props.table.bind(),
          ...props.presence.bind(),
          WS_MANAGEMENT_ENDPOINT: managementEndpoint,
          ...props.environment,
        },
      });
      props.table.grantReadWrite(fn.function);
      this.grantManageConnections(fn.function);
      return fn;
    };
    this.connect = inVpc('connect', 'Connect');
    this.disconnect = inVpc('disconnect', 'Disconnect');
    this.message = inVpc('message', 'Message');

    const authorizer = new WebSocketLambdaAuthorizer('TokenAuthorizer', this.authorizer.function, {
      authorizerName: 'token',
      identitySource: [`route.request.querystring.${TOKEN_QUERY_PARAMETER}`],
    });
    this.api.addRoute('$connect', {
      integration: new WebSocketLambdaIntegration('ConnectIntegration', this.connect.function),
      authorizer,
    });
    this.api.addRoute('$disconnect', { integration: new WebSocketLambdaIntegration('DisconnectIntegration', this.disconnect.function) });
    const messages = new WebSocketLambdaIntegration('MessageIntegration', this.message.function);
    this.api.addRoute('$default', { integration: messages });
    for (const route of MESSAGE_ROUTES) this.api.addRoute(route, { integration: messages });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'A WebSocket API authorizes once, on $connect (the token authorizer); $disconnect, $default and the message routes run on that authorized connection, and the router checks each channel.',
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const throttle = props.throttle ?? { rateLimit: 1000, burstLimit: 2000 };
    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName,
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTimeEpoch',
            eventType: '$context.eventType',
            routeKey: '$context.routeKey',
            status: '$context.status',
            connectionId: '$context.connectionId',
            ip: '$context.identity.sourceIp',
            user: '$context.authorizer.principalId',
            integrationLatency: '$context.integrationLatency',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integration.error',
          }),
        ),
      },
    });

    if (props.configureAccountLogging ?? true) {
      const role = new iam.Role(this, 'ApiGatewayLogsRole', {
        assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
        managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
      });
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "API Gateway's account-wide logging role: AWS documents this managed policy for it, and API Gateway names its log groups at run time.",
      });
      const account = new apigateway.CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
      this.stage.node.addDependency(account);
    }
  }

  /** `wss://{api}.execute-api.{region}.amazonaws.com/{stage}`. */
  get url(): string {
    return this.stage.url;
  }

  /** `execute-api:ManageConnections` on this API's stage only (POST to post, DELETE to close). */
  grantManageConnections(grantee: iam.IGrantable): iam.Grant {
    const methods = ['POST', 'DELETE'];
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:ManageConnections'],
      resourceArns: methods.map((method) =>
        Stack.of(this).formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: `${this.stageName}/${method}/@connections/*` }),
      ),
    });
    const principal = grantee.grantPrincipal;
    if (principal instanceof Construct) {
      const apiId = Stack.of(this).getLogicalId(this.api.node.defaultChild as CfnElement);
      for (const method of methods) {
        Validations.of(principal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiId}>/${this.stageName}/${method}/@connections/*]`,
          reason: 'Connection ids exist only at run time; the grant is limited to this API, this stage and the @connections resource.',
        });
      }
    }
    return grant;
  }
}
