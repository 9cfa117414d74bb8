/**
 * In-memory ConnectionStore. SINGLE-PROCESS ONLY: state lives in this object, so it suits
 * tests and the local runtime, never more than one Lambda instance. Same observable behaviour
 * as DynamoConnectionStore (checked by test/contract/connection-store.contract.ts), including
 * treating an expired record as absent.
 */
import { systemClock, type Clock, type ConnectionRecord, type ConnectionStore } from '../../domain/ports.ts';
import { copy, isExpired } from './support.ts';

export class MemoryConnectionStore implements ConnectionStore {
  private readonly clock: Clock;
  private readonly connections = new Map<string, ConnectionRecord>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  put(connection: ConnectionRecord): Promise<void> {
    this.connections.set(connection.connectionId, copy(connection));
    return Promise.resolve();
  }

  get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const record = this.connections.get(connectionId);
    if (!record || isExpired(record.expiresAt, this.clock)) return Promise.resolve(undefined);
    return Promise.resolve(copy(record));
  }

  delete(connectionId: string): Promise<void> {
    this.connections.delete(connectionId);
    return Promise.resolve();
  }
}
