/** The child side of the benchmarks' IPC: send to the parent, and fail loudly through it. */

export interface ChildIpc<Out> {
  send(message: Out): void;
  /** Reports the error to the parent, then exits non-zero. */
  fail(error: unknown): void;
}

export function childIpc<Out extends object>(name: string): ChildIpc<Out> {
  const send = (message: Out): void => {
    if (!process.send) throw new Error(`${name} runs as a child of bench/run.ts (no IPC channel)`);
    process.send(message);
  };
  return {
    send,
    fail(error) {
      const message = error instanceof Error ? error.message : String(error);
      try {
        send({ type: 'error', message } as unknown as Out);
      } finally {
        setTimeout(() => process.exit(1), 100);
      }
    },
  };
}
