/** The deploy-time settings of docs/deploy.md (cdk context) reach the template. */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthesise } from './support.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:realtime-jwt-AbCdEf';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:pager';

let template: Template;

beforeAll(() => {
  ({ template } = synthesise({
    context: {
      natGateways: '2',
      corsOrigins: 'https://app.example.com, https://admin.example.com',
      jwtSecretArn: SECRET_ARN,
      alarmTopicArn: TOPIC_ARN,
      logLevel: 'DEBUG',
      maxConnectionsPerUser: '50',
      connectionsPerIpPerMinute: '300',
    },
  }));
});

describe('deploy-time settings', () => {
  it('puts a NAT gateway in each AZ when asked for two', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 2);
  });

  it('serves SSE to the listed origins only, in the URL and in the function', () => {
    const origins = ['https://app.example.com', 'https://admin.example.com'];
    const url = Object.values(template.findResources('AWS::Lambda::Url'))[0] as { Properties: { Cors: { AllowOrigins: string[] } } };
    expect(url.Properties.Cors.AllowOrigins).toEqual(origins);
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'realtime-sse',
      Environment: { Variables: Match.objectLike({ CORS_ORIGINS: origins.join(',') }) },
    });
  });

  it('checks the same origins at $connect', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'realtime-ws-connect',
      Environment: { Variables: Match.objectLike({ CORS_ORIGINS: 'https://app.example.com,https://admin.example.com' }) },
    });
  });

  it('gives the abuse limits to the functions that enforce them', () => {
    for (const name of ['realtime-ws-connect', 'realtime-ws-disconnect', 'realtime-ws-message', 'realtime-fanout']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: name,
        Environment: { Variables: Match.objectLike({ MAX_CONNECTIONS_PER_USER: '50', RATE_LIMIT_CONNECTIONS_PER_IP: '300' }) },
      });
    }
  });

  it('uses an existing secret instead of generating one, and grants read on it', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'realtime-ws-authorizer',
      Environment: { Variables: Match.objectLike({ JWT_SECRET_ARN: SECRET_ARN }) },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(`"Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Effect":"Allow","Resource":"${SECRET_ARN}"`);
  });

  it('notifies the SNS topic from every alarm, on alarm and on recovery', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: { AlarmActions: string[]; OKActions: string[] } }[];
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([TOPIC_ARN]);
      expect(alarm.Properties.OKActions).toEqual([TOPIC_ARN]);
    }
  });

  it('sets the log level of every function', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Environment: { Variables: Record<string, string> } } }[];
    expect(functions).toHaveLength(6);
    for (const fn of functions) expect(fn.Properties.Environment.Variables['POWERTOOLS_LOG_LEVEL']).toBe('DEBUG');
  });
});
