/** Development tokens for the local runtime, signed with the development secret. */
import { SignJWT } from 'jose';
import { DEVELOPMENT_JWT_SECRET } from '../functions/config.ts';

export interface DevTokenOptions {
  userId: string;
  name?: string;
  picture?: string;
  /** @default 3600 */
  ttlSec?: number;
  secret?: string;
  issuer?: string;
  audience?: string;
}

export function developmentSecret(env: Record<string, string | undefined> = process.env): string {
  if (env['NODE_ENV'] === 'production') {
    throw new Error('Refusing the local runtime\'s development JWT secret with NODE_ENV=production; set JWT_SECRET or JWT_JWKS_URL');
  }
  return DEVELOPMENT_JWT_SECRET;
}

export async function mintDevToken(options: DevTokenOptions): Promise<string> {
  const secret = options.secret ?? process.env['JWT_SECRET'] ?? developmentSecret();
  let jwt = new SignJWT({ ...(options.name ? { name: options.name } : {}), ...(options.picture ? { picture: options.picture } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(`${options.ttlSec ?? 3600}s`);
  const issuer = options.issuer ?? process.env['JWT_ISSUER'];
  const audience = options.audience ?? process.env['JWT_AUDIENCE'];
  if (issuer) jwt = jwt.setIssuer(issuer);
  if (audience) jwt = jwt.setAudience(audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
