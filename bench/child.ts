/**
 * A benchmark's client process: a plain `node` child running a TypeScript script (tsx as an
 * import hook) with an IPC channel, and request/answer helpers over it. Used by the fan-out
 * benchmark (bench/clients.ts) and the presence storm (bench/storm-clients.ts).
 *
 * The child answers with `{ type, ... }` messages; `{ type: 'error', message }` fails every
 * pending and later request; `exit()` sends `{ type: 'exit' }` and waits for the child to leave.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Waiter<From> {
  accept: (m: From) => boolean;
  resolve: (m: From) => void;
  reject: (e: Error) => void;
}

export class ClientsProcess<To extends { type: string }, From extends { type: string }> {
  readonly #child: ChildProcess;
  #waiters: Waiter<From>[] = [];
  #failure: Error | undefined;
  readonly exited: Promise<number | null>;

  /**
   * @param script the child's module (a URL relative to the caller's `import.meta.url`)
   * @param onUnsolicited sees every message first; returning true consumes it (progress reports)
   * @param execArgv more `node` flags (e.g. `--expose-gc`)
   */
  constructor(script: URL, onUnsolicited: (m: From) => boolean = () => false, execArgv: readonly string[] = []) {
    // tsx as an import hook of a plain node child: the IPC channel is the child's own.
    this.#child = spawn(process.execPath, [...execArgv, '--import', import.meta.resolve('tsx'), fileURLToPath(script)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    this.#child.on('message', (m: From) => {
      if (m.type === 'error') return this.#fail(new Error(`client process: ${String((m as { message?: unknown }).message)}`));
      if (onUnsolicited(m)) return;
      const i = this.#waiters.findIndex((w) => w.accept(m));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
    });
    this.#child.once('exit', (code, signal) => this.#fail(new Error(`client process exited (code ${String(code)}, signal ${String(signal)})`)));
    this.#child.once('error', (error) => this.#fail(error));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  send(message: To): void {
    if (this.#failure) throw this.#failure;
    this.#child.send(message);
  }

  /** Sends `message` (if any) and resolves with the first answer `accept` takes. */
  request<T extends From>(message: To | undefined, accept: (m: From) => m is T, timeoutMs: number, what: string): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter<From> = {
        accept,
        resolve: (m) => (clearTimeout(timer), resolve(m as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.#waiters.push(waiter);
      if (message) this.send(message);
    });
  }

  /** Asks the child to close its sockets and exit; kills it if it does not. */
  async exit(timeoutMs = 15_000): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.send({ type: 'exit' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}
