/**
 * A minimal typed event emitter for the sinks: listeners are called in order and one that throws
 * cannot break the emitter or the other listeners (the error goes to `onListenerError`).
 */
export type EventMap = Record<string, unknown[]>;

type Listener = (...args: unknown[]) => void;

export class TypedEmitter<E extends EventMap> {
  #listeners = new Map<keyof E, Array<Listener>>();
  /** Where a throwing listener's error goes. Default: ignored. */
  protected onListenerError: (error: unknown) => void = () => {};

  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as unknown as Listener);
    this.#listeners.set(event, list);
    return this;
  }

  once<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const wrapped = (...args: E[K]) => {
      this.off(event, wrapped);
      listener(...args);
    };
    return this.on(event, wrapped);
  }

  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event);
    if (list) {
      const i = list.indexOf(listener as unknown as Listener);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...(args as unknown[]));
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
