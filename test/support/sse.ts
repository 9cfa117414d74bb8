/**
 * Test support for server-sent events: a parser of the wire format (as a browser parses it)
 * and a raw client over `fetch` that reads the body as it streams and awaits events instead of
 * sleeping.
 */
import { decodeResumeToken } from '../../functions/domain/resume-token.ts';

export interface SseMessage {
  /** `message` when the block had no `event:` field. */
  event: string;
  /** The `id:` of this block, when it had one. */
  id?: string;
  data: string;
}

export type SseItem = { kind: 'event'; message: SseMessage } | { kind: 'comment'; text: string } | { kind: 'retry'; ms: number };

/** The SSE parsing algorithm (WHATWG HTML 9.2.6), fed text as it arrives. */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  #hasFields = false;

  feed(text: string): SseItem[] {
    this.#buffer += text;
    const items: SseItem[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!match || (match[0] === '\r' && match.index === this.#buffer.length - 1)) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      this.#line(line, items);
    }
    return items;
  }

  #line(line: string, items: SseItem[]): void {
    if (line === '') {
      if (this.#hasFields && this.#data.length > 0) {
        const message: SseMessage = { event: this.#event || 'message', data: this.#data.join('\n') };
        if (this.#id !== undefined) message.id = this.#id;
        items.push({ kind: 'event', message });
      }
      this.#data = [];
      this.#event = '';
      this.#id = undefined;
      this.#hasFields = false;
      return;
    }
    if (line.startsWith(':')) {
      items.push({ kind: 'comment', text: line.slice(1).replace(/^ /, '') });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    this.#hasFields = true;
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) items.push({ kind: 'retry', ms: Number(value) });
  }
}

/** Every SSE item of a complete text. */
export function parseSse(text: string): SseItem[] {
  return new SseParser().feed(text);
}

/** The channel positions a resume token (an event id) carries. */
export function positionsOf(id: string | undefined): Record<string, number> {
  if (id === undefined) throw new Error('the event has no id');
  const decoded = decodeResumeToken(id);
  if (!decoded.ok) throw new Error(`not a resume token: ${decoded.reason}`);
  return Object.fromEntries(decoded.positions);
}

const WAIT_MS = 10_000;

/** One SSE request over fetch: the status, the headers and everything the stream brought so far. */
export class RawSseClient {
  readonly items: SseItem[] = [];
  /** The error body of a refused request (not 200). */
  body: unknown;
  /** Resolves when the response body ends (the server ended the stream, or abort()). */
  readonly ended: Promise<void>;
  #ended = false;
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  readonly #controller: AbortController;

  private constructor(
    readonly response: Response,
    controller: AbortController,
  ) {
    this.#controller = controller;
    this.ended = response.status === 200 ? this.#read() : this.#readError();
  }

  static async open(url: string, init: { headers?: Record<string, string>; method?: string } = {}): Promise<RawSseClient> {
    const controller = new AbortController();
    const response = await fetch(url, { ...init, signal: controller.signal });
    return new RawSseClient(response, controller);
  }

  get status(): number {
    return this.response.status;
  }

  get isEnded(): boolean {
    return this.#ended;
  }

  get events(): SseMessage[] {
    return this.items.flatMap((i) => (i.kind === 'event' ? [i.message] : []));
  }

  get comments(): string[] {
    return this.items.flatMap((i) => (i.kind === 'comment' ? [i.text] : []));
  }

  /** The parsed `data` of every event named `event`. */
  dataOf<T = Record<string, unknown>>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as T);
  }

  /** Resolves once `check` holds (checked again after every chunk). */
  until(check: (client: RawSseClient) => boolean, what = 'condition', timeoutMs = WAIT_MS): Promise<void> {
    if (check(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => check(this),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${what} not met within ${timeoutMs} ms; got ${JSON.stringify(this.items)}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The first event that matches (already received or coming). */
  async waitForEvent(predicate: (e: SseMessage) => boolean, timeoutMs = WAIT_MS): Promise<SseMessage> {
    await this.until((c) => c.events.some(predicate), 'event', timeoutMs);
    return this.events.find(predicate) as SseMessage;
  }

  abort(): void {
    this.#controller.abort();
  }

  async #read(): Promise<void> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = (this.response.body as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.items.push(...parser.feed(decoder.decode(value, { stream: true })));
        this.#wake();
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  async #readError(): Promise<void> {
    const text = await this.response.text();
    this.body = text === '' ? undefined : (JSON.parse(text) as unknown);
    this.#ended = true;
  }

  #wake(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}
