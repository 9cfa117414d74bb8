/**
 * In-memory ConnectionGateway: records what was posted to each connection. Connections are
 * open until `close()`d; posting to an unknown or closed one answers 'gone', like API Gateway.
 * Faults (throttling, errors) can be injected per post. Single process only.
 */
import { GatewayThrottledError, type ConnectionGateway, type PostOutcome } from '../../domain/ports.ts';

export type InjectedFault = 'throttle' | Error | undefined;

export class MemoryConnectionGateway implements ConnectionGateway {
  readonly #open = new Map<string, string[]>();
  #fault: (connectionId: string, attempt: number) => InjectedFault = () => undefined;
  readonly #attempts = new Map<string, number>();
  /** Every post attempt, in order, including failed ones. */
  readonly calls: string[] = [];

  open(connectionId: string): void {
    this.#open.set(connectionId, []);
  }

  close(connectionId: string): void {
    this.#open.delete(connectionId);
  }

  /** Messages posted to a connection, parsed from JSON. */
  received(connectionId: string): unknown[] {
    return (this.#open.get(connectionId) ?? []).map((m) => JSON.parse(m) as unknown);
  }

  injectFaults(fault: (connectionId: string, attempt: number) => InjectedFault): void {
    this.#fault = fault;
  }

  async post(connectionId: string, payload: string): Promise<PostOutcome> {
    this.calls.push(connectionId);
    const attempt = (this.#attempts.get(connectionId) ?? 0) + 1;
    this.#attempts.set(connectionId, attempt);
    const fault = this.#fault(connectionId, attempt);
    if (fault === 'throttle') throw new GatewayThrottledError();
    if (fault instanceof Error) throw fault;
    const inbox = this.#open.get(connectionId);
    if (!inbox) return 'gone';
    inbox.push(payload);
    return 'ok';
  }

  async disconnect(connectionId: string): Promise<void> {
    this.#open.delete(connectionId);
  }
}
