/**
 * The VPC for the functions that use Redis presence (connect, disconnect, message, fan-out).
 * They also post to the API Gateway `@connections` API, a public endpoint: from a VPC with no
 * route out, PostToConnection hangs until the function times out. So the private subnets
 * route out through NAT gateways (default one: cheapest; set two for a NAT per AZ), and
 * DynamoDB traffic takes a gateway endpoint (free, and it skips the NAT's per-GB charge).
 * Authorizer and SSE stay outside (response streaming does not work in a VPC).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkProps {
  /** NAT gateways; each costs about $33 a month plus data. @default 1 */
  readonly natGateways?: number;
  /** @default 2 */
  readonly maxAzs?: number;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Where the functions and the cache live: private, with a route out through NAT. */
  readonly privateSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  /** The security group of the functions in the VPC (outbound only). */
  readonly functionsSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: props.maxAzs ?? 2,
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets: [this.privateSubnets] },
      },
      // Rejected flows only: enough to diagnose a security group that refuses, at little cost.
      flowLogs: {
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.TWO_WEEKS, removalPolicy: RemovalPolicy.DESTROY }),
          ),
        },
      },
    });
    this.functionsSecurityGroup = new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', {
      vpc: this.vpc,
      description: 'Lambda functions that use Redis presence; outbound to the cache, DynamoDB and the @connections API',
      allowAllOutbound: true,
    });
  }

  /** What RealtimeFunction needs to place a function in the VPC. */
  bind(): { vpc: ec2.IVpc; subnets: ec2.SubnetSelection; securityGroup: ec2.ISecurityGroup } {
    return { vpc: this.vpc, subnets: this.privateSubnets, securityGroup: this.functionsSecurityGroup };
  }
}
