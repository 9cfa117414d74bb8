/**
 * Helpers shared by the memory adapters (all of them SINGLE-PROCESS ONLY).
 *
 * Expiry as the DynamoDB adapters see it: `expiresAt` is epoch seconds and an item whose
 * `expiresAt` <= now is absent.
 */
import type { Clock } from '../../domain/ports.ts';

export const isExpired = (expiresAt: number, clock: Clock): boolean => expiresAt <= clock.now() / 1000;

/** A deep copy without `undefined` properties, like a DynamoDB round trip with
 * `removeUndefinedValues`; callers never share mutable state with the store. */
export const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
