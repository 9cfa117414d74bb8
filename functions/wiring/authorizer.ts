/** Wiring of ws-authorizer: only the token verifier. */
import { createJwtVerifier } from '../adapters/jwt-verifier.ts';
import type { TokenVerifier } from '../domain/ports.ts';
import { config, once } from './common.ts';

export const tokenVerifier = (): TokenVerifier => once('verifier', () => createJwtVerifier(config().jwt));
