/**
 * End-to-end support: the product running in the local runtime with its real handlers, real
 * `ws` clients, the real EventBridge client and the real DynamoDB stores for assertions.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import { DynamoChannelStore } from '../../functions/adapters/dynamodb/channel-store.ts';
import { DynamoConnectionStore } from '../../functions/adapters/dynamodb/connection-store.ts';
import { DynamoSubscriptionStore } from '../../functions/adapters/dynamodb/subscription-store.ts';
import { resetDependencies } from '../../functions/wiring/common.ts';
import { ServerMessageSchema, type ChannelMessage, type ServerMessage } from '../../functions/domain/messages.ts';
import { createPublisher, type Publisher } from '../../functions/publisher/publisher.ts';
import { mintDevToken, type DevTokenOptions } from '../../local/dev-token.ts';
import { startLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from '../../local/runtime.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const WAIT_MS = 10_000;

export interface Product {
  runtime: LocalRuntime;
  publisher: Publisher;
  events: EventBridgeClient;
  stores: { connections: DynamoConnectionStore; subscriptions: DynamoSubscriptionStore; channels: DynamoChannelStore };
  token(userId: string, options?: Omit<DevTokenOptions, 'userId'>): Promise<string>;
  /** Connects as `userId` (a development token) and waits for the socket to open. */
  connect(userId: string): Promise<TestClient>;
  connectWithToken(token: string | undefined): Promise<TestClient>;
  /** Tries to connect and resolves with the HTTP status of a refused upgrade (or 101). */
  upgradeStatus(query: string): Promise<number>;
  /** Resolves once the events queue has nothing visible or in flight. */
  settled(): Promise<void>;
  /** Resolves once `count` messages from `connectionId` have been handled by the message handler. */
  handled(connectionId: string, count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startProduct(options: LocalRuntimeOptions = {}): Promise<Product> {
  // The handlers build their clients once per process from the environment: start afresh.
  resetDependencies();
  const runtime = await startLocalRuntime({
    port: 0,
    log: 'silent',
    ...options,
    sqs: { visibilityTimeoutMs: 200, ...options.sqs },
  });
  const events = new EventBridgeClient({ endpoint: runtime.url, region: 'us-east-1', credentials });
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: runtime.dynamodb.endpoint, region: 'us-east-1', credentials }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const table = { client: doc, tableName: runtime.env['TABLE_NAME'] ?? 'realtime' };
  const clients: TestClient[] = [];
  const secret = options.env?.['JWT_SECRET'];
  const token = (userId: string, opts: Omit<DevTokenOptions, 'userId'> = {}): Promise<string> =>
    mintDevToken({ userId, ...(secret ? { secret } : {}), ...opts });

  const product: Product = {
    runtime,
    events,
    publisher: createPublisher({ client: events, eventBusName: 'realtime' }),
    stores: {
      connections: new DynamoConnectionStore(table),
      subscriptions: new DynamoSubscriptionStore(table),
      channels: new DynamoChannelStore(table),
    },
    token,
    async connect(userId) {
      return product.connectWithToken(await token(userId));
    },
    async connectWithToken(value) {
      const client = await TestClient.open(`${runtime.wsUrl}/${value === undefined ? '' : `?token=${encodeURIComponent(value)}`}`);
      clients.push(client);
      return client;
    },
    upgradeStatus(query) {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${runtime.wsUrl}/${query}`);
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.on('open', () => {
          resolve(101);
          ws.close();
        });
        ws.on('error', (error) => {
          if (!String(error.message).includes('Unexpected server response')) reject(error);
        });
      });
    },
    settled: () => runtime.queues.events.drained(),
    handled(connectionId, count) {
      return new Promise((resolve) => {
        let seen = 0;
        const listener = (e: { connectionId: string }): void => {
          if (e.connectionId !== connectionId || ++seen < count) return;
          runtime.gateway.off('message', listener);
          resolve();
        };
        runtime.gateway.on('message', listener);
      });
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      events.destroy();
      doc.destroy();
      await runtime.close();
    },
  };
  return product;
}

type Predicate = (message: ServerMessage) => boolean;
const CHANNEL_EVENTS: ReadonlySet<string> = new Set(['job:update', 'notification', 'doc:event']);

/** A WebSocket client that keeps every message (validated against the shared schema). */
export class TestClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #ws: WebSocket;
  #waiters: { predicate: Predicate; resolve: (m: ServerMessage) => void }[] = [];
  #requests = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const parsed = ServerMessageSchema.safeParse(JSON.parse(data.toString()));
      if (!parsed.success) throw new Error(`server sent a message outside the protocol: ${data.toString()}`);
      const message = parsed.data as ServerMessage;
      this.messages.push(message);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.predicate(message)) return true;
        w.resolve(message);
        return false;
      });
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => {});
  }

  static open(url: string): Promise<TestClient> {
    const ws = new WebSocket(url, { headers: { 'user-agent': 'realtime-e2e' } });
    const client = new TestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  send(frame: object | string): void {
    this.#ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first message (already received or coming) that matches. */
  waitFor(predicate: Predicate, timeoutMs = WAIT_MS): Promise<ServerMessage> {
    const found = this.messages.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve: (m: ServerMessage) => (clearTimeout(timer), resolve(m)) };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Sends an action with a fresh requestId and resolves with the reply that carries it. */
  request(frame: Record<string, unknown>): Promise<ServerMessage> {
    const requestId = `req-${++this.#requests}`;
    this.send({ ...frame, requestId });
    return this.waitFor((m) => 'requestId' in m && m.requestId === requestId);
  }

  async subscribe(channel: string): Promise<void> {
    const reply = await this.request({ action: 'subscribe', channel });
    if (reply.event !== 'subscribed') throw new Error(`subscribe ${channel} refused: ${JSON.stringify(reply)}`);
  }

  /** The channel's messages (job updates, notifications, document events), in arrival order. */
  channelMessages(channel: string): ChannelMessage[] {
    return this.messages.filter((m): m is ChannelMessage => CHANNEL_EVENTS.has(m.event) && 'channel' in m && m.channel === channel);
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    this.#ws.close();
    await this.closed;
  }
}

export const at = (second: number): string => new Date(Date.UTC(2026, 10, 26, 10, 0, second)).toISOString();
