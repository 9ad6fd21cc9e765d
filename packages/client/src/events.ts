/**
 * OpenTok.js-style events: `on(type, handler, context)`, `on({type: handler}, context)`,
 * space-separated types, `once`, `off`; handlers get an event object with `type`, `target`,
 * `preventDefault()`/`isDefaultPrevented()`. A throwing handler does not stop the others.
 */
export class OTEvent {
  private defaultPrevented = false;
  readonly cancelable: boolean;
  constructor(
    readonly type: string,
    public target: unknown,
    props: Record<string, unknown> = {},
    cancelable = false,
  ) {
    Object.assign(this, props);
    this.cancelable = cancelable;
  }
  preventDefault(): void {
    if (this.cancelable) this.defaultPrevented = true;
  }
  isDefaultPrevented(): boolean {
    return this.defaultPrevented;
  }
}

// OpenTok events carry varied properties (stream, connection, reason, data…); handlers read them freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OTEventHandler = (event: any) => void;
interface Listener {
  handler: OTEventHandler;
  context: unknown;
  once: boolean;
}

export class EventEmitter {
  private listeners = new Map<string, Listener[]>();

  on(type: string | Record<string, OTEventHandler>, handler?: OTEventHandler | unknown, context?: unknown): this {
    return this.add(type, handler, context, false);
  }

  once(type: string | Record<string, OTEventHandler>, handler?: OTEventHandler | unknown, context?: unknown): this {
    return this.add(type, handler, context, true);
  }

  /** `off()` removes everything; `off(type)` every handler of a type; `off(type, handler)` one. */
  off(type?: string | Record<string, OTEventHandler>, handler?: OTEventHandler | unknown, context?: unknown): this {
    if (type === undefined) {
      this.listeners.clear();
      return this;
    }
    if (typeof type === 'object') {
      for (const [t, h] of Object.entries(type)) this.off(t, h, handler);
      return this;
    }
    for (const t of type.split(/\s+/).filter(Boolean)) {
      if (typeof handler !== 'function') {
        this.listeners.delete(t);
        continue;
      }
      const list = (this.listeners.get(t) ?? []).filter((l) => l.handler !== handler || (context !== undefined && l.context !== context));
      this.listeners.set(t, list);
    }
    return this;
  }

  /** How many handlers `type` has (a publisher measures audio levels only while someone listens). */
  listenerCount(type: string): number {
    return this.listeners.get(type)?.length ?? 0;
  }

  // OpenTok.js aliases.
  addEventListener(type: string, handler: OTEventHandler, context?: unknown): this {
    return this.on(type, handler, context);
  }
  removeEventListener(type: string, handler: OTEventHandler, context?: unknown): this {
    return this.off(type, handler, context);
  }

  /**
   * Dispatch an event to the listeners of `key` (default: its `type`); returns it (so callers
   * can check `isDefaultPrevented`).
   */
  dispatch(event: OTEvent, key: string = event.type): OTEvent {
    for (const l of [...(this.listeners.get(key) ?? [])]) {
      if (l.once) this.off(key, l.handler, l.context);
      try {
        l.handler.call(l.context ?? this, event);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
    return event;
  }

  /** Build and dispatch an event in one call. */
  emit(type: string, props: Record<string, unknown> = {}, cancelable = false): OTEvent {
    return this.dispatch(new OTEvent(type, this, props, cancelable), type);
  }

  private add(type: string | Record<string, OTEventHandler>, handler: unknown, context: unknown, once: boolean): this {
    if (typeof type === 'object') {
      for (const [t, h] of Object.entries(type)) this.add(t, h, handler, once);
      return this;
    }
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    for (const t of type.split(/\s+/).filter(Boolean)) {
      const list = this.listeners.get(t) ?? [];
      list.push({ handler: handler as OTEventHandler, context, once });
      this.listeners.set(t, list);
    }
    return this;
  }
}
