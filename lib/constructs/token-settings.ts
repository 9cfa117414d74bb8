/**
 * How tokens are verified on AWS. Either an identity provider (the `JwtJwksUrl`, `JwtIssuer`,
 * `JwtAudience` parameters, set at deploy time) or an HS256 secret in Secrets Manager,
 * generated here unless an existing one is named. The functions read the secret at run time
 * with Powertools (JWT_SECRET_ARN); its value never enters the template or the environment.
 */
import { CfnParameter, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface TokenSettingsProps {
  /** Use this secret (name or ARN of an existing Secrets Manager secret) instead of generating one. */
  readonly existingSecretArn?: string;
}

export class TokenSettings extends Construct {
  readonly secret: secretsmanager.ISecret;
  readonly jwksUrl: CfnParameter;
  readonly issuer: CfnParameter;
  readonly audience: CfnParameter;

  constructor(scope: Construct, id: string, props: TokenSettingsProps = {}) {
    super(scope, id);
    this.secret = props.existingSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', props.existingSecretArn)
      : new secretsmanager.Secret(this, 'Secret', {
          description: 'HS256 secret that signs realtime tokens (unused when JwtJwksUrl is set)',
          // 64 characters from a generator run by Secrets Manager at deploy time.
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
          removalPolicy: RemovalPolicy.RETAIN,
        });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Rotating an HS256 secret invalidates every token signed with it at once; rotation is a planned step (docs/deploy.md), and an identity provider (JwtJwksUrl) avoids the shared secret altogether.',
    });
    this.jwksUrl = parameter(this, 'JwtJwksUrl', "An identity provider's JWKS URL (RS256/ES256); empty: HS256 with the stack's secret");
    this.issuer = parameter(this, 'JwtIssuer', 'Required `iss` claim; empty: not checked');
    this.audience = parameter(this, 'JwtAudience', 'Required `aud` claim; empty: not checked');
  }

  /** Read access to the secret, for the functions that verify tokens. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }

  /** The verifier's environment (see functions/config.ts). */
  bind(): Record<string, string> {
    return {
      JWT_SECRET_ARN: this.secret.secretArn,
      JWT_JWKS_URL: this.jwksUrl.valueAsString,
      JWT_ISSUER: this.issuer.valueAsString,
      JWT_AUDIENCE: this.audience.valueAsString,
    };
  }
}

function parameter(scope: Construct, name: string, description: string): CfnParameter {
  const p = new CfnParameter(scope, name, { type: 'String', default: '', description });
  p.overrideLogicalId(name); // `--parameters JwtIssuer=...`, not a hashed id
  return p;
}
