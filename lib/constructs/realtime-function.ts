/**
 * One Lambda function of the service, built from the handler list and the shared bundling
 * settings of functions/handlers.ts, so what `npm run build` measures is what is deployed.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BUNDLING, HANDLERS, type HandlerName } from '../../functions/handlers.ts';

/** The project root: entries, package-lock.json and the local esbuild are found from here. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What every function gets from Powertools' environment. */
export interface ObservabilityProps {
  /** `POWERTOOLS_SERVICE_NAME`, the `service` dimension of every metric. @default 'realtime' */
  readonly serviceName?: string;
  /** `POWERTOOLS_METRICS_NAMESPACE`. @default 'Realtime' */
  readonly metricsNamespace?: string;
  /** `POWERTOOLS_LOG_LEVEL`. @default 'INFO' */
  readonly logLevel?: string;
  /** How long function logs are kept. @default one month */
  readonly logRetention?: logs.RetentionDays;
}

export const DEFAULT_OBSERVABILITY = {
  serviceName: 'realtime',
  metricsNamespace: 'Realtime',
  logLevel: 'INFO',
  logRetention: logs.RetentionDays.ONE_MONTH,
} as const satisfies Required<ObservabilityProps>;

export interface RealtimeFunctionProps {
  /** Which handler of functions/handlers.ts (entry, name and timeout come from there). */
  readonly handler: HandlerName;
  readonly observability?: ObservabilityProps;
  /** Handler environment besides Powertools'. */
  readonly environment?: Record<string, string>;
  /** @default the handler's `memoryMB` in functions/handlers.ts (the cost model prices the same) */
  readonly memorySize?: number;
  /** Places the function in these subnets with this security group. @default outside any VPC */
  readonly vpc?: { readonly vpc: ec2.IVpc; readonly subnets: ec2.SubnetSelection; readonly securityGroup: ec2.ISecurityGroup };
  /** Prefix of the function's name (stage or environment), e.g. `prod-`. @default none */
  readonly namePrefix?: string;
}

/**
 * A `NodejsFunction` bundled by the local esbuild (never Docker), ARM64, with its own log group
 * and its own role: no AWS managed policy (those allow writing to any log group), only writes
 * to its log group, the network interfaces Lambda needs in a VPC, and what `grant*` adds.
 */
export class RealtimeFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly handlerName: HandlerName;

  constructor(scope: Construct, id: string, props: RealtimeFunctionProps) {
    super(scope, id);
    const spec = HANDLERS[props.handler];
    const o = { ...DEFAULT_OBSERVABILITY, ...props.observability };
    this.handlerName = props.handler;
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: o.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${spec.functionName}: its log group, and what the stack grants it`,
    });
    this.logGroup.grantWrite(this.role);
    if (props.vpc) {
      // What AWSLambdaVPCAccessExecutionRole allows, minus logs: Lambda manages the function's
      // network interfaces with the function's role; these actions take no resource ARN.
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'EC2 network-interface actions Lambda needs for a function in a VPC do not support resource-level permissions.',
      });
    }
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: `${props.namePrefix ?? ''}${spec.functionName}`,
      entry: join(PROJECT_ROOT, spec.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: nodeRuntime(BUNDLING.nodeMajor),
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(spec.timeoutSeconds),
      memorySize: props.memorySize ?? spec.memoryMB,
      logGroup: this.logGroup,
      role: this.role,
      // Structured JSON logs come from Powertools Logger; the platform's lines (START, REPORT) stay text.
      environment: {
        POWERTOOLS_SERVICE_NAME: o.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: o.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: o.logLevel,
        NODE_ENV: 'production',
        // Stack traces name the TypeScript sources (bundles carry source maps).
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: BUNDLING.format === 'esm' ? nodejs.OutputFormat.ESM : nodejs.OutputFormat.CJS,
        target: BUNDLING.target,
        minify: BUNDLING.minify,
        sourceMap: BUNDLING.sourcemap,
        externalModules: [...BUNDLING.external],
        banner: BUNDLING.banner,
        // The esbuild devDependency; synthesis must work without Docker or network.
        forceDockerBundling: false,
        logLevel: nodejs.LogLevel.WARNING,
        // NodejsFunction bundles to one --outfile, and esbuild's code splitting needs an output
        // directory: ioredis, a dynamic import, must be a chunk of its own (cold starts parse
        // the entry only; see BUNDLING). So the shared bundler writes the same entry over
        // NodejsFunction's, with its chunks: the asset is exactly what `npm run build` measures.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [
            `"${process.execPath}" --import tsx "${join(PROJECT_ROOT, 'scripts', 'bundle-handler.ts')}" ${props.handler} "${outputDir}"`,
          ],
        },
      },
      ...(props.vpc
        ? { vpc: props.vpc.vpc, vpcSubnets: props.vpc.subnets, securityGroups: [props.vpc.securityGroup] }
        : {}),
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: `Node.js ${String(BUNDLING.nodeMajor)} is the runtime the bundles are built and tested for (BUNDLING.nodeMajor in functions/handlers.ts); a newer one is a change there, with the tests.`,
    });
  }
}

function nodeRuntime(major: number): lambda.Runtime {
  const runtimes: Record<number, lambda.Runtime> = { 20: lambda.Runtime.NODEJS_20_X, 22: lambda.Runtime.NODEJS_22_X, 24: lambda.Runtime.NODEJS_24_X };
  const runtime = runtimes[major];
  if (!runtime) throw new Error(`No Lambda runtime for Node.js ${String(major)}`);
  return runtime;
}
