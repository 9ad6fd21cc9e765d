import type { EventEmitter } from './events.js';
import type { Publisher } from './publisher.js';
import type { Session } from './session.js';
import type { Subscriber } from './subscriber.js';

/** A filter for {@link OTCollection.find}/`where`: attributes the item must have, or a predicate. */
export type CollectionQuery<T> = Partial<Record<keyof T & string, unknown>> | ((item: T) => boolean);

/**
 * OpenTok.js's `OT.publishers`, `OT.subscribers` and `OT.sessions`: the live objects of the page,
 * which apps search (`OT.subscribers.find().element`, as the Basic-Captions sample does).
 * `find(query)` returns the first match (the first item without a query), `where(query)` every
 * match; an item leaves the collection when it is destroyed.
 */
export class OTCollection<T extends { id?: string }> {
  private readonly items = new Map<string, T>();
  constructor(private readonly key: (item: T) => string) {}

  /** @internal */
  add(item: T & EventEmitter): void {
    const id = this.key(item);
    this.items.set(id, item);
    item.once('destroyed', () => this.items.get(id) === item && this.items.delete(id));
  }

  find(query?: CollectionQuery<T>): T | undefined {
    return this.where(query)[0];
  }

  where(query?: CollectionQuery<T>): T[] {
    const all = [...this.items.values()];
    if (query === undefined) return all;
    if (typeof query === 'function') return all.filter(query);
    return all.filter((item) => Object.entries(query).every(([k, v]) => (item as Record<string, unknown>)[k] === v));
  }

  get(id: string): T | undefined {
    return this.items.get(id);
  }

  has(id: string): boolean {
    return this.items.has(id);
  }

  length(): number {
    return this.items.size;
  }

  forEach(fn: (item: T) => void): void {
    for (const item of [...this.items.values()]) fn(item);
  }
}

/** `OT.sessions`, `OT.publishers`, `OT.subscribers`. */
export const sessions = new OTCollection<Session>((s) => s.id);
export const publishers = new OTCollection<Publisher>((p) => p.id);
export const subscribers = new OTCollection<Subscriber>((s) => s.id);
