import { randomUUID } from 'node:crypto';

/** A unique id per test, so tests sharing one table never see each other's items. */
export const uniqueId = (prefix: string): string => `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 16)}`;
