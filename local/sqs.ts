/**
 * SQS for the local runtime: standard queues with visibility timeouts and a redrive policy
 * (dead-letter queue after `maxReceiveCount` receives), the Lambda event source mapping that feeds
 * a queue to a function in batches, and the AWS JSON 1.0 API the v3 SDK speaks
 * (`x-amz-target: AmazonSQS.SendMessage`, query-compatible errors).
 *
 * Locally the queue is deterministic: messages are received in the order they were sent.
 */
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { LambdaFunction } from './lambda-context.ts';
import type { RuntimeLog } from './log.ts';
import { HttpError, readJson, sendJson, type Route, type RouteRequest } from './http-router.ts';
import { ACCOUNT_ID, Timers, Tracker, deferred, errorMessageOf, md5Hex, uuid, type Deferred } from './util.ts';

/** SQS's long-standing message size cap, which the queues here are configured with. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_BATCH_ENTRIES = 10;
const MAX_DELAY_SECONDS = 900;
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
const MAX_MESSAGE_ATTRIBUTES = 10;
const SENDER_ID = 'AIDALOCALRUNTIME0000';

// ---------------------------------------------------------------------------------------------
// Errors, as the query-compatible JSON protocol reports them

export class SqsError extends Error {
  constructor(
    /** The `__type` shape name. */
    readonly type: string,
    /** The awsQuery error code (x-amzn-query-error). */
    readonly queryCode: string,
    message: string,
    readonly status = 400,
    readonly fault: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
    this.name = queryCode;
  }
}

const errors = {
  queueDoesNotExist: () =>
    new SqsError('com.amazonaws.sqs#QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'The specified queue does not exist.'),
  invalidParameter: (message: string) =>
    new SqsError('com.amazon.coral.service#InvalidParameterValueException', 'InvalidParameterValue', message),
  missingParameter: (name: string) =>
    new SqsError(
      'com.amazonaws.sqs#MissingRequiredParameterException',
      'MissingParameter',
      `The request must contain the parameter ${name}.`,
    ),
  invalidContents: () =>
    new SqsError(
      'com.amazonaws.sqs#InvalidMessageContents',
      'InvalidMessageContents',
      'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
    ),
  tooManyEntries: (n: number) =>
    new SqsError(
      'com.amazonaws.sqs#TooManyEntriesInBatchRequest',
      'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are ${String(MAX_BATCH_ENTRIES)}. You have sent ${String(n)}.`,
    ),
  emptyBatch: () =>
    new SqsError(
      'com.amazonaws.sqs#EmptyBatchRequest',
      'AWS.SimpleQueueService.EmptyBatchRequest',
      'There should be at least one SendMessageBatchRequestEntry in the request.',
    ),
  batchTooLong: (max: number) =>
    new SqsError(
      'com.amazonaws.sqs#BatchRequestTooLong',
      'AWS.SimpleQueueService.BatchRequestTooLong',
      `Batch requests cannot be longer than ${String(max)} bytes.`,
    ),
  idsNotDistinct: () =>
    new SqsError(
      'com.amazonaws.sqs#BatchEntryIdsNotDistinct',
      'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
      'Two or more batch entries in the request have the same Id.',
    ),
  invalidBatchEntryId: () =>
    new SqsError(
      'com.amazonaws.sqs#InvalidBatchEntryId',
      'AWS.SimpleQueueService.InvalidBatchEntryId',
      'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
    ),
  receiptHandleInvalid: (handle: string) =>
    new SqsError('com.amazonaws.sqs#ReceiptHandleIsInvalid', 'ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`, 404),
  unsupported: (op: string) =>
    new SqsError(
      'com.amazonaws.sqs#UnsupportedOperation',
      'AWS.SimpleQueueService.UnsupportedOperation',
      `${op} is not supported by the local runtime.`,
    ),
};

// ---------------------------------------------------------------------------------------------
// Message attributes

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  /** Base64 in the JSON protocol. */
  BinaryValue?: string;
}
export type MessageAttributes = Record<string, MessageAttributeValue>;

function validateAttributes(input: unknown): MessageAttributes {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw errors.invalidParameter('MessageAttributes must be a map.');
  const out: MessageAttributes = {};
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > MAX_MESSAGE_ATTRIBUTES) {
    throw errors.invalidParameter(`Number of message attributes [${String(entries.length)}] exceeds the allowed maximum [10].`);
  }
  for (const [name, raw] of entries) {
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..') || /^(aws|amazon)\./i.test(name)) {
      throw errors.invalidParameter(`Message attribute name '${name}' is invalid.`);
    }
    const value = raw as Partial<MessageAttributeValue> | null;
    const dataType = value?.DataType;
    if (typeof dataType !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(dataType)) {
      throw errors.invalidParameter(`The message attribute '${name}' has an invalid message attribute type.`);
    }
    if (dataType.startsWith('Binary')) {
      if (typeof value?.BinaryValue !== 'string') throw errors.invalidParameter(`The message attribute '${name}' must contain a non-empty message attribute value.`);
      out[name] = { DataType: dataType, BinaryValue: value.BinaryValue };
    } else {
      if (typeof value?.StringValue !== 'string' || value.StringValue === '') {
        throw errors.invalidParameter(`The message attribute '${name}' must contain a non-empty message attribute value for message attribute type '${dataType}'.`);
      }
      if (dataType.startsWith('Number') && !Number.isFinite(Number(value.StringValue))) {
        throw errors.invalidParameter(`Can't cast the value of message attribute '${name}' to a number.`);
      }
      out[name] = { DataType: dataType, StringValue: value.StringValue };
    }
  }
  return out;
}

function attributeValueBytes(v: MessageAttributeValue): Buffer {
  return v.BinaryValue !== undefined ? Buffer.from(v.BinaryValue, 'base64') : Buffer.from(v.StringValue ?? '', 'utf8');
}

function attributesSize(attributes: MessageAttributes): number {
  let size = 0;
  for (const [name, v] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(v.DataType) + attributeValueBytes(v).length;
  }
  return size;
}

/** MD5OfMessageAttributes, with SQS's encoding: sorted names, length-prefixed fields. */
export function md5OfMessageAttributes(attributes: MessageAttributes): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const lengthPrefixed = (bytes: Buffer): void => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    parts.push(len, bytes);
  };
  for (const name of names) {
    const v = attributes[name];
    if (!v) continue;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(v.DataType, 'utf8'));
    parts.push(Buffer.from([v.BinaryValue !== undefined ? 2 : 1]));
    lengthPrefixed(attributeValueBytes(v));
  }
  return md5Hex(Buffer.concat(parts));
}

// Valid: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF (lone surrogates are invalid).
const INVALID_CHARS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

// ---------------------------------------------------------------------------------------------
// The queue

interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes: MessageAttributes;
  md5OfMessageAttributes: string | undefined;
  sentTimestamp: number;
  firstReceiveTimestamp: number | undefined;
  receiveCount: number;
  visibleAt: number;
  receiptHandle: string | undefined;
  visibilityTimer: NodeJS.Timeout | undefined;
  deadLetterSourceArn: string | undefined;
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  md5OfBody: string;
  md5OfMessageAttributes: string | undefined;
  messageAttributes: MessageAttributes;
  attributes: {
    ApproximateReceiveCount: string;
    SentTimestamp: string;
    SenderId: string;
    ApproximateFirstReceiveTimestamp: string;
    DeadLetterQueueSourceArn?: string;
  };
}

/** What tests and operators see of a queued message. */
export interface QueuedMessage {
  messageId: string;
  body: string;
  messageAttributes: MessageAttributes;
  receiveCount: number;
  sentTimestamp: number;
  visible: boolean;
}

export interface SendOptions {
  messageAttributes?: MessageAttributes;
  delaySeconds?: number;
}

export interface LocalQueueOptions {
  name: string;
  region: string;
  /** Base URL of the runtime, e.g. http://127.0.0.1:3001. */
  baseUrl: string;
  visibilityTimeoutMs: number;
  maxMessageBytes: number;
  redrive?: { target: LocalQueue; maxReceiveCount: number };
  timers: Timers;
  log: RuntimeLog;
}

export class LocalQueue {
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  readonly visibilityTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly createdAt = Date.now();
  readonly #messages = new Map<string, StoredMessage>();
  readonly #availableListeners = new Set<() => void>();
  readonly #drainWaiters = new Set<Deferred<void>>();
  readonly #redrive: LocalQueueOptions['redrive'];
  readonly #timers: Timers;
  readonly #log: RuntimeLog;
  #holds = 0;
  #closed = false;
  /** Counters, for tests and benchmarks. */
  readonly stats = { sent: 0, received: 0, deleted: 0, movedToDeadLetter: 0 };

  constructor(options: LocalQueueOptions) {
    this.name = options.name;
    this.arn = `arn:aws:sqs:${options.region}:${ACCOUNT_ID}:${options.name}`;
    this.url = `${options.baseUrl}/${ACCOUNT_ID}/${options.name}`;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs;
    this.maxMessageBytes = options.maxMessageBytes;
    this.#redrive = options.redrive;
    this.#timers = options.timers;
    this.#log = options.log.child(options.name);
  }

  get redrivePolicy(): { deadLetterTargetArn: string; maxReceiveCount: number } | undefined {
    return this.#redrive ? { deadLetterTargetArn: this.#redrive.target.arn, maxReceiveCount: this.#redrive.maxReceiveCount } : undefined;
  }

  /** Every message still in the queue: visible, in flight or delayed (`messages().length`). */
  get size(): number {
    return this.#messages.size;
  }

  /** Messages that can be received now (ApproximateNumberOfMessages). */
  get visible(): number {
    const now = Date.now();
    let n = 0;
    for (const m of this.#messages.values()) if (m.visibleAt <= now) n++;
    return n;
  }

  /** Received and not yet deleted, whose visibility timeout has not expired. */
  get inFlight(): number {
    const now = Date.now();
    let n = 0;
    for (const m of this.#messages.values()) if (m.visibleAt > now && m.receiveCount > 0) n++;
    return n;
  }

  get delayed(): number {
    const now = Date.now();
    let n = 0;
    for (const m of this.#messages.values()) if (m.visibleAt > now && m.receiveCount === 0) n++;
    return n;
  }

  messages(): QueuedMessage[] {
    const now = Date.now();
    return [...this.#messages.values()].map((m) => ({
      messageId: m.messageId,
      body: m.body,
      messageAttributes: structuredClone(m.messageAttributes),
      receiveCount: m.receiveCount,
      sentTimestamp: m.sentTimestamp,
      visible: m.visibleAt <= now,
    }));
  }

  /** Validates like SendMessage; throws SqsError. */
  validate(body: unknown, options: SendOptions = {}): { body: string; attributes: MessageAttributes; size: number } {
    if (typeof body !== 'string') throw errors.missingParameter('MessageBody');
    if (body.length === 0) throw errors.invalidParameter('The request must contain the parameter MessageBody.');
    if (INVALID_CHARS.test(body)) throw errors.invalidContents();
    const attributes = validateAttributes(options.messageAttributes);
    const size = Buffer.byteLength(body, 'utf8') + attributesSize(attributes);
    if (size > this.maxMessageBytes) {
      throw errors.invalidParameter(`One or more parameters are invalid. Reason: Message must be shorter than ${String(this.maxMessageBytes)} bytes.`);
    }
    const delay = options.delaySeconds;
    if (delay !== undefined && (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS)) {
      throw errors.invalidParameter(`Value ${String(delay)} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.`);
    }
    return { body, attributes, size };
  }

  /** SendMessage. Throws SqsError when the message is invalid. */
  send(body: string, options: SendOptions = {}): { messageId: string; md5OfBody: string; md5OfMessageAttributes?: string } {
    if (this.#closed) throw new Error(`queue ${this.name} is closed`);
    const valid = this.validate(body, options);
    const now = Date.now();
    const message: StoredMessage = {
      messageId: uuid(),
      body: valid.body,
      md5OfBody: md5Hex(valid.body),
      messageAttributes: valid.attributes,
      md5OfMessageAttributes: md5OfMessageAttributes(valid.attributes),
      sentTimestamp: now,
      firstReceiveTimestamp: undefined,
      receiveCount: 0,
      visibleAt: now + (options.delaySeconds ?? 0) * 1000,
      receiptHandle: undefined,
      visibilityTimer: undefined,
      deadLetterSourceArn: undefined,
    };
    this.#store(message);
    this.stats.sent++;
    this.#log.debug('message sent', { messageId: message.messageId, bytes: valid.size });
    const out: { messageId: string; md5OfBody: string; md5OfMessageAttributes?: string } = {
      messageId: message.messageId,
      md5OfBody: message.md5OfBody,
    };
    if (message.md5OfMessageAttributes) out.md5OfMessageAttributes = message.md5OfMessageAttributes;
    return out;
  }

  #store(message: StoredMessage): void {
    this.#messages.set(message.messageId, message);
    const wait = message.visibleAt - Date.now();
    if (wait > 0) message.visibilityTimer = this.#timers.set(() => this.#becameVisible(message), wait);
    else this.#notifyAvailable();
  }

  /**
   * ReceiveMessage: up to `max` visible messages in send order, each hidden for the visibility
   * timeout. A message already received `maxReceiveCount` times moves to the dead-letter queue
   * instead of being received again.
   */
  receive(max: number, visibilityTimeoutMs = this.visibilityTimeoutMs): ReceivedMessage[] {
    const now = Date.now();
    const out: ReceivedMessage[] = [];
    for (const m of this.#messages.values()) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      if (this.#redrive && m.receiveCount >= this.#redrive.maxReceiveCount) {
        this.#moveToDeadLetter(m);
        continue;
      }
      m.receiveCount++;
      m.firstReceiveTimestamp ??= now;
      m.receiptHandle = newReceiptHandle(m.messageId);
      m.visibleAt = now + visibilityTimeoutMs;
      this.#timers.clear(m.visibilityTimer);
      m.visibilityTimer = this.#timers.set(() => this.#becameVisible(m), visibilityTimeoutMs);
      this.stats.received++;
      const attributes: ReceivedMessage['attributes'] = {
        ApproximateReceiveCount: String(m.receiveCount),
        SentTimestamp: String(m.sentTimestamp),
        SenderId: SENDER_ID,
        ApproximateFirstReceiveTimestamp: String(m.firstReceiveTimestamp),
      };
      if (m.deadLetterSourceArn) attributes.DeadLetterQueueSourceArn = m.deadLetterSourceArn;
      out.push({
        messageId: m.messageId,
        receiptHandle: m.receiptHandle,
        body: m.body,
        md5OfBody: m.md5OfBody,
        md5OfMessageAttributes: m.md5OfMessageAttributes,
        messageAttributes: structuredClone(m.messageAttributes),
        attributes,
      });
    }
    if (out.length) this.#log.debug('messages received', { count: out.length });
    this.#checkDrained();
    return out;
  }

  /** DeleteMessage. A stale receipt handle (the message was received again since) deletes nothing, like SQS. */
  delete(receiptHandle: string): boolean {
    const messageId = parseReceiptHandle(receiptHandle);
    if (messageId === undefined) throw errors.receiptHandleInvalid(receiptHandle);
    const m = this.#messages.get(messageId);
    if (!m || m.receiptHandle !== receiptHandle) return false;
    this.#remove(m);
    this.stats.deleted++;
    return true;
  }

  /** ChangeMessageVisibility of a received message (0 makes it visible at once). */
  changeVisibility(receiptHandle: string, timeoutMs: number): void {
    const messageId = parseReceiptHandle(receiptHandle);
    if (messageId === undefined) throw errors.receiptHandleInvalid(receiptHandle);
    const m = this.#messages.get(messageId);
    if (!m || m.receiptHandle !== receiptHandle || m.visibleAt <= Date.now()) {
      throw new SqsError('com.amazonaws.sqs#MessageNotInflight', 'AWS.SimpleQueueService.MessageNotInflight', 'Message is not in flight.');
    }
    this.#timers.clear(m.visibilityTimer);
    m.visibleAt = Date.now() + timeoutMs;
    if (timeoutMs > 0) m.visibilityTimer = this.#timers.set(() => this.#becameVisible(m), timeoutMs);
    else this.#notifyAvailable();
  }

  purge(): number {
    const n = this.#messages.size;
    for (const m of [...this.#messages.values()]) this.#remove(m);
    this.#log.debug('purged', { count: n });
    return n;
  }

  #remove(m: StoredMessage): void {
    this.#timers.clear(m.visibilityTimer);
    this.#messages.delete(m.messageId);
    this.#checkDrained();
  }

  #moveToDeadLetter(m: StoredMessage): void {
    const target = this.#redrive?.target;
    if (!target) return;
    this.#remove(m);
    this.stats.movedToDeadLetter++;
    this.#log.debug('moved to dead-letter queue', { messageId: m.messageId, receiveCount: m.receiveCount, dlq: target.name });
    target.#store({
      ...m,
      receiveCount: 0,
      firstReceiveTimestamp: undefined,
      receiptHandle: undefined,
      visibilityTimer: undefined,
      visibleAt: Date.now(),
      deadLetterSourceArn: this.arn,
    });
  }

  #becameVisible(m: StoredMessage): void {
    m.visibilityTimer = undefined;
    if (this.#messages.get(m.messageId) !== m) return;
    // Node's timers run on a monotonic clock and may fire a millisecond before Date.now()
    // reaches `visibleAt`; receive() would then skip the message and nothing would wake the
    // poller again. Wait out the rest.
    const early = m.visibleAt - Date.now();
    if (early > 0) {
      m.visibilityTimer = this.#timers.set(() => this.#becameVisible(m), early);
      return;
    }
    this.#notifyAvailable();
  }

  /** Called (synchronously) whenever messages may have become receivable. */
  onAvailable(listener: () => void): () => void {
    this.#availableListeners.add(listener);
    return () => this.#availableListeners.delete(listener);
  }

  #notifyAvailable(): void {
    for (const listener of this.#availableListeners) listener();
  }

  /** A consumer (the event source mapping) holds the queue busy while a batch is in flight. */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#checkDrained();
    };
  }

  /** Resolves when the queue holds no message (visible, in flight or delayed) and no consumer is busy. */
  drained(): Promise<void> {
    if (this.#isDrained()) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error(`queue ${this.name} is closed`));
    const waiter = deferred<void>();
    this.#drainWaiters.add(waiter);
    return waiter.promise;
  }

  #isDrained(): boolean {
    return this.#messages.size === 0 && this.#holds === 0;
  }

  #checkDrained(): void {
    if (this.#drainWaiters.size === 0 || !this.#isDrained()) return;
    for (const w of this.#drainWaiters) w.resolve();
    this.#drainWaiters.clear();
  }

  close(): void {
    this.#closed = true;
    for (const m of this.#messages.values()) this.#timers.clear(m.visibilityTimer);
    for (const w of this.#drainWaiters) w.reject(new Error(`queue ${this.name} closed before it drained`));
    this.#drainWaiters.clear();
    this.#availableListeners.clear();
  }

  /** GetQueueAttributes values. */
  attributes(): Record<string, string> {
    const out: Record<string, string> = {
      QueueArn: this.arn,
      ApproximateNumberOfMessages: String(this.visible),
      ApproximateNumberOfMessagesNotVisible: String(this.inFlight),
      ApproximateNumberOfMessagesDelayed: String(this.delayed),
      CreatedTimestamp: String(Math.floor(this.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(this.createdAt / 1000)),
      VisibilityTimeout: String(Math.ceil(this.visibilityTimeoutMs / 1000)),
      MaximumMessageSize: String(this.maxMessageBytes),
      MessageRetentionPeriod: '345600',
      DelaySeconds: '0',
      ReceiveMessageWaitTimeSeconds: '0',
      SqsManagedSseEnabled: 'true',
    };
    const redrive = this.redrivePolicy;
    if (redrive) out['RedrivePolicy'] = JSON.stringify(redrive);
    return out;
  }
}

function newReceiptHandle(messageId: string): string {
  return Buffer.from(`${messageId}#${uuid()}`, 'utf8').toString('base64');
}

function parseReceiptHandle(handle: string): string | undefined {
  const decoded = Buffer.from(handle, 'base64').toString('utf8');
  const [messageId, nonce] = decoded.split('#');
  return messageId && nonce ? messageId : undefined;
}

// ---------------------------------------------------------------------------------------------
// The Lambda event source mapping

export interface EventSourceMappingOptions {
  queue: LocalQueue;
  fn: LambdaFunction<SQSEvent, SQSBatchResponse | null>;
  region: string;
  batchSize: number;
  /** MaximumBatchingWindowInSeconds, in ms; 0 delivers what arrived in the same tick. */
  batchWindowMs: number;
  /** Batches in flight at once. */
  maxConcurrency: number;
  /** FunctionResponseTypes: ['ReportBatchItemFailures']. */
  reportBatchItemFailures: boolean;
  timers: Timers;
  log: RuntimeLog;
}

export class SqsEventSourceMapping {
  readonly #o: EventSourceMappingOptions;
  readonly #tracker = new Tracker();
  #inFlight = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #windowTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopped = true;
  readonly stats = { batches: 0, records: 0, succeeded: 0, failed: 0, handlerErrors: 0 };

  constructor(options: EventSourceMappingOptions) {
    this.#o = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#unsubscribe = this.#o.queue.onAvailable(() => this.#wake());
    this.#wake();
  }

  /** Stops polling and waits for the batches in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#o.timers.clear(this.#windowTimer);
    this.#windowTimer = undefined;
    await this.#tracker.idle();
  }

  #wake(): void {
    if (this.#stopped || this.#scheduled || this.#inFlight >= this.#o.maxConcurrency) return;
    const { batchWindowMs, batchSize, queue } = this.#o;
    if (batchWindowMs > 0 && queue.visible < batchSize) {
      // Gather for the batching window unless a full batch is already there.
      this.#windowTimer ??= this.#o.timers.set(() => {
        this.#windowTimer = undefined;
        this.#schedule();
      }, batchWindowMs);
      return;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.#scheduled) return;
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined;
      this.#poll();
    });
  }

  #poll(): void {
    const { queue, batchSize, maxConcurrency } = this.#o;
    while (!this.#stopped && this.#inFlight < maxConcurrency) {
      const messages = queue.receive(batchSize);
      if (messages.length === 0) return;
      this.#inFlight++;
      const release = queue.hold();
      void this.#tracker.track(
        this.#runBatch(messages).finally(() => {
          this.#inFlight--;
          release();
          this.#wake();
        }),
      );
    }
  }

  async #runBatch(messages: ReceivedMessage[]): Promise<void> {
    const { queue, fn, log } = this.#o;
    const event: SQSEvent = { Records: messages.map((m) => this.#record(m)) };
    this.stats.batches++;
    this.stats.records += messages.length;
    let failed: Set<string>;
    try {
      const result = await fn.invoke(event);
      failed = this.#failedIds(result, messages);
    } catch (error) {
      this.stats.handlerErrors++;
      log.warn('batch failed: every message returns to the queue', {
        function: fn.config.functionName,
        records: messages.length,
        error: errorMessageOf(error),
      });
      failed = new Set(messages.map((m) => m.messageId));
    }
    for (const m of messages) {
      if (failed.has(m.messageId)) {
        this.stats.failed++;
        continue; // becomes visible again when its visibility timeout expires
      }
      this.stats.succeeded++;
      queue.delete(m.receiptHandle);
    }
    if (failed.size) log.debug('batch items failed', { failed: failed.size, of: messages.length });
  }

  /** Lambda's reading of a partial batch response; anything malformed fails the whole batch. */
  #failedIds(result: SQSBatchResponse | null, messages: ReceivedMessage[]): Set<string> {
    const all = new Set(messages.map((m) => m.messageId));
    if (!this.#o.reportBatchItemFailures) return new Set();
    if (result === null || result === undefined) return new Set();
    if (typeof result !== 'object' || Array.isArray(result)) {
      this.#o.log.warn('invalid batch response: the whole batch failed', { response: result });
      return all;
    }
    const failures = (result as { batchItemFailures?: unknown }).batchItemFailures;
    if (failures === null || failures === undefined) return new Set();
    if (!Array.isArray(failures)) {
      this.#o.log.warn('invalid batchItemFailures: the whole batch failed', { batchItemFailures: failures });
      return all;
    }
    const failed = new Set<string>();
    for (const f of failures) {
      const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
      if (typeof id !== 'string' || id === '' || !all.has(id)) {
        this.#o.log.warn('invalid itemIdentifier in batchItemFailures: the whole batch failed', { item: f });
        return all;
      }
      failed.add(id);
    }
    return failed;
  }

  #record(m: ReceivedMessage): SQSRecord {
    const record: SQSRecord = {
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      body: m.body,
      attributes: { ...m.attributes },
      messageAttributes: recordAttributes(m.messageAttributes),
      md5OfBody: m.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: this.#o.queue.arn,
      awsRegion: this.#o.region,
    };
    if (m.md5OfMessageAttributes) record.md5OfMessageAttributes = m.md5OfMessageAttributes;
    return record;
  }
}

function recordAttributes(attributes: MessageAttributes): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(attributes)) {
    const a: SQSMessageAttributes[string] = { dataType: v.DataType, stringListValues: [], binaryListValues: [] };
    if (v.StringValue !== undefined) a.stringValue = v.StringValue;
    if (v.BinaryValue !== undefined) a.binaryValue = v.BinaryValue;
    out[name] = a;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The JSON 1.0 API

export interface SqsApiOptions {
  queues: () => Iterable<LocalQueue>;
  timers: Timers;
  log: RuntimeLog;
}

export function sqsRoute(options: SqsApiOptions): Route {
  return {
    name: 'sqs',
    methods: ['POST'],
    path: '/',
    target: 'AmazonSQS.',
    handle: (request) => handleSqs(request, options),
  };
}

async function handleSqs({ req, res }: RouteRequest, options: SqsApiOptions): Promise<void> {
  const operation = String(req.headers['x-amz-target']).slice('AmazonSQS.'.length);
  const contentType = 'application/x-amz-json-1.0';
  try {
    const input = await readJson(req).catch((error: unknown) => {
      if (error instanceof HttpError && error.status === 413) throw errors.batchTooLong(DEFAULT_MAX_MESSAGE_BYTES);
      throw error;
    });
    const output = await runOperation(operation, input, options);
    options.log.debug('sqs', { operation });
    sendJson(res, 200, output, {}, contentType);
  } catch (error) {
    if (error instanceof SqsError) {
      options.log.debug('sqs error', { operation, code: error.queryCode, message: error.message });
      sendJson(res, error.status, { __type: error.type, message: error.message }, {
        'x-amzn-query-error': `${error.queryCode};${error.fault}`,
      }, contentType);
      return;
    }
    if (error instanceof HttpError) {
      sendJson(res, error.status, { __type: error.errorType ?? 'InternalFailure', message: error.message }, {}, contentType);
      return;
    }
    options.log.error('sqs operation failed', { operation, error });
    sendJson(res, 500, { __type: 'com.amazonaws.sqs#InternalError', message: 'We encountered an internal error. Please try again.' }, {
      'x-amzn-query-error': 'InternalError;Receiver',
    }, contentType);
  }
}

function findQueue(input: Record<string, unknown>, options: SqsApiOptions): LocalQueue {
  const queueUrl = input['QueueUrl'];
  if (typeof queueUrl !== 'string' || queueUrl === '') throw errors.missingParameter('QueueUrl');
  let name: string | undefined;
  try {
    const parts = new URL(queueUrl).pathname.split('/').filter(Boolean);
    if (parts.length === 2 && parts[0] === ACCOUNT_ID) name = parts[1];
  } catch {
    name = undefined;
  }
  for (const q of options.queues()) if (q.name === name) return q;
  throw errors.queueDoesNotExist();
}

const optionalInt = (input: Record<string, unknown>, name: string): number | undefined => {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw errors.invalidParameter(`Value ${String(v)} for parameter ${name} is invalid.`);
  return v;
};

async function runOperation(operation: string, input: Record<string, unknown>, options: SqsApiOptions): Promise<unknown> {
  switch (operation) {
    case 'SendMessage': {
      const queue = findQueue(input, options);
      const sendOptions: SendOptions = {};
      const attrs = input['MessageAttributes'];
      if (attrs !== undefined) sendOptions.messageAttributes = attrs as MessageAttributes;
      const delay = optionalInt(input, 'DelaySeconds');
      if (delay !== undefined) sendOptions.delaySeconds = delay;
      const sent = queue.send(input['MessageBody'] as string, sendOptions);
      return {
        MessageId: sent.messageId,
        MD5OfMessageBody: sent.md5OfBody,
        ...(sent.md5OfMessageAttributes ? { MD5OfMessageAttributes: sent.md5OfMessageAttributes } : {}),
      };
    }
    case 'SendMessageBatch':
      return sendBatch(findQueue(input, options), input);
    case 'ReceiveMessage':
      return receive(findQueue(input, options), input, options);
    case 'DeleteMessage': {
      const queue = findQueue(input, options);
      const handle = input['ReceiptHandle'];
      if (typeof handle !== 'string' || !handle) throw errors.missingParameter('ReceiptHandle');
      queue.delete(handle);
      return {};
    }
    case 'DeleteMessageBatch': {
      const queue = findQueue(input, options);
      const entries = batchEntries(input);
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
      for (const e of entries) {
        try {
          queue.delete(String(e['ReceiptHandle'] ?? ''));
          Successful.push({ Id: String(e['Id']) });
        } catch (error) {
          Failed.push({ Id: String(e['Id']), SenderFault: true, Code: (error as SqsError).queryCode ?? 'InternalError', Message: errorMessageOf(error) });
        }
      }
      return { Successful, Failed };
    }
    case 'ChangeMessageVisibility': {
      const queue = findQueue(input, options);
      const handle = input['ReceiptHandle'];
      if (typeof handle !== 'string' || !handle) throw errors.missingParameter('ReceiptHandle');
      const seconds = optionalInt(input, 'VisibilityTimeout');
      if (seconds === undefined) throw errors.missingParameter('VisibilityTimeout');
      if (seconds < 0 || seconds > MAX_VISIBILITY_SECONDS) throw errors.invalidParameter(`Value ${String(seconds)} for parameter VisibilityTimeout is invalid.`);
      queue.changeVisibility(handle, seconds * 1000);
      return {};
    }
    case 'GetQueueAttributes': {
      const queue = findQueue(input, options);
      const all = queue.attributes();
      const names = (input['AttributeNames'] as string[] | undefined) ?? [];
      const wanted = names.includes('All') ? Object.keys(all) : names;
      const Attributes: Record<string, string> = {};
      for (const n of wanted) {
        const v = all[n];
        if (v === undefined) throw new SqsError('com.amazonaws.sqs#InvalidAttributeName', 'InvalidAttributeName', `Unknown Attribute ${n}.`);
        Attributes[n] = v;
      }
      return Object.keys(Attributes).length ? { Attributes } : {};
    }
    case 'GetQueueUrl': {
      const name = input['QueueName'];
      for (const q of options.queues()) if (q.name === name) return { QueueUrl: q.url };
      throw errors.queueDoesNotExist();
    }
    case 'ListQueues': {
      const prefix = typeof input['QueueNamePrefix'] === 'string' ? input['QueueNamePrefix'] : '';
      return { QueueUrls: [...options.queues()].filter((q) => q.name.startsWith(prefix)).map((q) => q.url) };
    }
    case 'PurgeQueue':
      findQueue(input, options).purge();
      return {};
    default:
      throw errors.unsupported(operation);
  }
}

function batchEntries(input: Record<string, unknown>): Record<string, unknown>[] {
  const entries = input['Entries'];
  if (entries === undefined || (Array.isArray(entries) && entries.length === 0)) throw errors.emptyBatch();
  if (!Array.isArray(entries)) throw errors.invalidParameter('Entries must be a list.');
  if (entries.length > MAX_BATCH_ENTRIES) throw errors.tooManyEntries(entries.length);
  const ids = new Set<string>();
  for (const e of entries as Record<string, unknown>[]) {
    const id = e['Id'];
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(id)) throw errors.invalidBatchEntryId();
    if (ids.has(id)) throw errors.idsNotDistinct();
    ids.add(id);
  }
  return entries as Record<string, unknown>[];
}

function sendBatch(queue: LocalQueue, input: Record<string, unknown>): unknown {
  const entries = batchEntries(input);
  const Successful: Record<string, string>[] = [];
  const Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
  const valid: { id: string; body: string; options: SendOptions }[] = [];
  let total = 0;
  for (const e of entries) {
    const id = String(e['Id']);
    const options: SendOptions = {};
    if (e['MessageAttributes'] !== undefined) options.messageAttributes = e['MessageAttributes'] as MessageAttributes;
    if (typeof e['DelaySeconds'] === 'number') options.delaySeconds = e['DelaySeconds'];
    try {
      const v = queue.validate(e['MessageBody'], options);
      total += v.size;
      valid.push({ id, body: v.body, options });
    } catch (error) {
      if (!(error instanceof SqsError)) throw error;
      // An oversized entry makes the whole request too long; other problems fail the entry.
      if (error.queryCode === 'InvalidParameterValue' && /shorter than/.test(error.message)) {
        throw errors.batchTooLong(queue.maxMessageBytes);
      }
      Failed.push({ Id: id, SenderFault: true, Code: error.queryCode, Message: error.message });
    }
  }
  if (total > queue.maxMessageBytes) throw errors.batchTooLong(queue.maxMessageBytes);
  for (const v of valid) {
    const sent = queue.send(v.body, v.options);
    const entry: Record<string, string> = { Id: v.id, MessageId: sent.messageId, MD5OfMessageBody: sent.md5OfBody };
    if (sent.md5OfMessageAttributes) entry['MD5OfMessageAttributes'] = sent.md5OfMessageAttributes;
    Successful.push(entry);
  }
  return { Successful, Failed };
}

async function receive(queue: LocalQueue, input: Record<string, unknown>, options: SqsApiOptions): Promise<unknown> {
  const max = optionalInt(input, 'MaxNumberOfMessages') ?? 1;
  if (max < 1 || max > 10) {
    throw errors.invalidParameter(`Value ${String(max)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`);
  }
  const visibility = optionalInt(input, 'VisibilityTimeout');
  if (visibility !== undefined && (visibility < 0 || visibility > MAX_VISIBILITY_SECONDS)) {
    throw errors.invalidParameter(`Value ${String(visibility)} for parameter VisibilityTimeout is invalid.`);
  }
  const wait = optionalInt(input, 'WaitTimeSeconds') ?? 0;
  if (wait < 0 || wait > 20) {
    throw errors.invalidParameter(`Value ${String(wait)} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`);
  }
  const visibilityMs = visibility === undefined ? undefined : visibility * 1000;
  let messages = queue.receive(max, visibilityMs);
  if (messages.length === 0 && wait > 0) {
    // Long polling: wait for a message or the wait time (or the runtime closing).
    await new Promise<void>((resolve) => {
      const timer = options.timers.set(done, wait * 1000);
      const unsubscribe = queue.onAvailable(done);
      function done(): void {
        options.timers.clear(timer);
        unsubscribe();
        resolve();
      }
    });
    messages = queue.receive(max, visibilityMs);
  }
  if (messages.length === 0) return {};
  const systemNames = [
    ...((input['AttributeNames'] as string[] | undefined) ?? []),
    ...((input['MessageSystemAttributeNames'] as string[] | undefined) ?? []),
  ];
  const attributeNames = (input['MessageAttributeNames'] as string[] | undefined) ?? [];
  return {
    Messages: messages.map((m) => {
      const out: Record<string, unknown> = {
        MessageId: m.messageId,
        ReceiptHandle: m.receiptHandle,
        MD5OfBody: m.md5OfBody,
        Body: m.body,
      };
      const attrs = Object.fromEntries(
        Object.entries(m.attributes).filter(([k]) => systemNames.includes('All') || systemNames.includes(k)),
      );
      if (Object.keys(attrs).length) out['Attributes'] = attrs;
      const messageAttributes = Object.fromEntries(
        Object.entries(m.messageAttributes).filter(([k]) => attributeNames.some((n) => n === 'All' || n === '.*' || n === k || (n.endsWith('.*') && k.startsWith(n.slice(0, -1))))),
      );
      if (Object.keys(messageAttributes).length) {
        out['MessageAttributes'] = messageAttributes;
        out['MD5OfMessageAttributes'] = md5OfMessageAttributes(messageAttributes);
      }
      return out;
    }),
  };
}
