/**
 * Lambda invocation semantics for handlers hosted in-process: a realistic `Context` per
 * invocation, the event and the result passed through JSON (as the Lambda service does), and the
 * function timeout (the invocation fails with "Task timed out after N seconds"; like Lambda it
 * cannot stop the handler's own work, it only stops waiting for it).
 */
import { randomBytes } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { RuntimeLog } from './log.ts';
import { isStreamingHandler } from './streaming.ts';
import { ACCOUNT_ID, errorMessageOf, uuid } from './util.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LambdaHandler<E = any, R = any> = (event: E, context: Context) => Promise<R> | R;
/** What the runtime can host: a plain handler, or a streaming one (`awslambda.streamifyResponse`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LocalHandler = LambdaHandler | awslambda.StreamifyHandler<any>;

export interface LambdaFunctionConfig {
  /** e.g. `realtime-ws-message`. */
  functionName: string;
  timeoutMs: number;
  memoryMB: number;
  region: string;
}

export interface LambdaContextOptions extends LambdaFunctionConfig {
  awsRequestId?: string;
  /** Epoch ms of the invocation's deadline; defaults to now + timeoutMs. */
  deadline?: number;
  logStreamName?: string;
}

export function createLambdaContext(options: LambdaContextOptions): Context {
  const deadline = options.deadline ?? Date.now() + options.timeoutMs;
  const logStreamName = options.logStreamName ?? newLogStreamName();
  const deprecated = (name: string) => (): void => {
    throw new Error(`context.${name}() is not supported by the local runtime: return a promise from the handler`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${options.region}:${ACCOUNT_ID}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryMB),
    awsRequestId: options.awsRequestId ?? uuid(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: deprecated('done'),
    fail: deprecated('fail'),
    succeed: deprecated('succeed'),
  };
}

function newLogStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

export class LambdaTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = 'Sandbox.Timedout';
  }
}

/** One hosted function: a handler with its configuration, invoked like Lambda invokes it. */
export class LambdaFunction<E = unknown, R = unknown> {
  readonly #logStreamName = newLogStreamName();
  #invocations = 0;
  #inFlight = 0;

  constructor(
    readonly config: LambdaFunctionConfig,
    private readonly handler: LambdaHandler<E, R> | awslambda.StreamifyHandler<E>,
    private readonly log: RuntimeLog,
  ) {}

  get invocations(): number {
    return this.#invocations;
  }

  /** Invocations running now (a streaming one runs as long as its stream). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether the handler was wrapped with `awslambda.streamifyResponse`. */
  get streaming(): boolean {
    return isStreamingHandler(this.handler);
  }

  /**
   * Invokes the handler with a deep copy of the event; resolves with a deep copy of its result.
   * Rejects with the handler's error, or LambdaTimeoutError at the function timeout.
   */
  async invoke(event: E): Promise<R> {
    this.#invocations++;
    this.#inFlight++;
    const { timeoutMs, functionName } = this.config;
    const context = createLambdaContext({ ...this.config, logStreamName: this.#logStreamName });
    const started = Date.now();
    this.log.debug('invoke', { function: functionName, requestId: context.awsRequestId });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LambdaTimeoutError(timeoutMs)), timeoutMs);
    });
    try {
      const payload = JSON.parse(JSON.stringify(event)) as E;
      const result = await Promise.race([Promise.resolve().then(() => (this.handler as LambdaHandler<E, R>)(payload, context)), timeout]);
      const out = (result === undefined ? null : JSON.parse(JSON.stringify(result))) as R;
      this.log.debug('invoke done', { function: functionName, requestId: context.awsRequestId, ms: Date.now() - started });
      return out;
    } catch (error) {
      this.log.debug('invoke failed', {
        function: functionName,
        requestId: context.awsRequestId,
        ms: Date.now() - started,
        error: errorMessageOf(error),
      });
      throw error;
    } finally {
      clearTimeout(timer);
      this.#inFlight--;
    }
  }

  /**
   * Invokes a streaming handler (`awslambda.streamifyResponse`) with a deep copy of the event
   * and `responseStream`; resolves when the handler's promise does. At the function timeout
   * the stream is cut (destroyed) and the invocation rejects with LambdaTimeoutError; like
   * Lambda, the handler's own work is not stopped, only its response.
   */
  async invokeStreaming(event: E, responseStream: awslambda.ResponseStream): Promise<void> {
    const handler: unknown = this.handler;
    if (!isStreamingHandler(handler)) throw new Error(`${this.config.functionName} is not a streaming handler (wrap it with awslambda.streamifyResponse)`);
    this.#invocations++;
    this.#inFlight++;
    const { timeoutMs, functionName } = this.config;
    const context = createLambdaContext({ ...this.config, logStreamName: this.#logStreamName });
    const started = Date.now();
    this.log.debug('invoke (streaming)', { function: functionName, requestId: context.awsRequestId });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new LambdaTimeoutError(timeoutMs);
        responseStream.destroy();
        reject(error);
      }, timeoutMs);
    });
    try {
      const payload = JSON.parse(JSON.stringify(event)) as unknown;
      await Promise.race([Promise.resolve().then(() => handler(payload, responseStream, context)), timeout]);
      this.log.debug('invoke done', { function: functionName, requestId: context.awsRequestId, ms: Date.now() - started });
    } catch (error) {
      this.log.debug('invoke failed', { function: functionName, requestId: context.awsRequestId, ms: Date.now() - started, error: errorMessageOf(error) });
      throw error;
    } finally {
      clearTimeout(timer);
      this.#inFlight--;
    }
  }
}
