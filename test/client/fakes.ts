/**
 * Fakes for the SDK's unit tests: a clock whose timers run when the test advances it, and a
 * WebSocket and an EventSource whose server side the test plays.
 */
import type { Timers } from '../../client/timers.ts';
import type { EventSourceLike } from '../../client/transport-sse.ts';
import type { WebSocketLike } from '../../client/transport-ws.ts';

/** Lets promises and queued microtasks settle. */
export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

export class FakeTimers implements Timers {
  nowMs = 1_000_000;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.nowMs + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers due in order, each followed by a flush of promises. */
  async advance(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.nowMs = Math.max(this.nowMs, next[1].at);
      next[1].fn();
      await flush();
    }
    this.nowMs = end;
    await flush();
  }

  /** Delays of the pending timers, from now. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.nowMs).sort((a, b) => a - b);
  }
}

export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];
  readyState = 0;
  readonly sent: Record<string, unknown>[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  static get last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (!ws) throw new Error('no WebSocket was opened');
    return ws;
  }

  get token(): string | null {
    return new URL(this.url).searchParams.get('token');
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === 3) return;
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // --- the server side -------------------------------------------------------------------
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The upgrade fails (refused, blocked by a proxy). */
  refuse(): void {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code: 1006 });
  }

  /** The server (or the network) ends an open connection. */
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  push(message: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  frames(action: string): Record<string, unknown>[] {
    return this.sent.filter((f) => f['action'] === action);
  }

  /** Acknowledges every subscribe not yet answered (with `recovered` for those that gave `since`). */
  ackSubscribes(recovered = true): void {
    for (const f of this.frames('subscribe')) {
      if (f['acked']) continue;
      f['acked'] = true;
      this.push({
        event: 'subscribed',
        channel: f['channel'],
        requestId: f['requestId'],
        ...(f['since'] === undefined ? {} : { recovered }),
      });
    }
  }
}

export class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly #listeners = new Map<string, ((event: { data?: unknown }) => void)[]>();

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  static reset(): void {
    FakeEventSource.instances = [];
  }

  static get last(): FakeEventSource {
    const es = FakeEventSource.instances.at(-1);
    if (!es) throw new Error('no EventSource was opened');
    return es;
  }

  get params(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.readyState = 2;
  }

  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** A non-200 answer: the browser gives up. */
  refuse(): void {
    this.readyState = 2;
    this.onerror?.({});
  }

  push(event: string, message: Record<string, unknown>): void {
    for (const l of this.#listeners.get(event) ?? []) l({ data: JSON.stringify(message) });
  }
}

/** A job update as the server sends it. */
export function jobUpdate(jobId: string, offset: number, progress: number, status = 'running'): Record<string, unknown> {
  return {
    event: 'job:update',
    channel: `jobs.${jobId}`,
    offset,
    data: { type: 'job.update', jobId, status, progress, timestamp: new Date(Date.UTC(2026, 10, 26, 10, 0, offset)).toISOString() },
  };
}
