/** A small typed event emitter (no Node `events` in the browser build). */
type Listener = (...args: unknown[]) => void;

export class Emitter<Events extends Record<string, unknown[]>> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();

  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    const l = listener as unknown as Listener;
    set.add(l);
    return () => void set.delete(l);
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        // A throwing listener must not break delivery to the others, nor the SDK's state.
        reportListenerError(error);
      }
    }
  }
}

export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  // Browsers report it like an uncaught error; Node (no reportError) must not crash for it.
  if (typeof report === 'function') report(error);
  else console.error('realtime client: a listener threw', error);
}
