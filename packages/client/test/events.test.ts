import { describe, expect, it, vi } from 'vitest';
import { EventEmitter, OTEvent } from '../src/events.js';

describe('EventEmitter (OpenTok.js event API)', () => {
  it('on/once/off with space-separated types, maps and contexts', () => {
    const e = new EventEmitter();
    const seen: string[] = [];
    const ctx = { name: 'ctx' };
    function h(this: { name: string }, ev: OTEvent) {
      seen.push(`${this.name}:${ev.type}`);
    }
    e.on('a b', h, ctx);
    e.once({ c: () => seen.push('once-c') });
    e.emit('a');
    e.emit('b');
    e.emit('c');
    e.emit('c');
    e.off('a', h);
    e.emit('a');
    expect(seen).toEqual(['ctx:a', 'ctx:b', 'once-c']);
    e.off();
    e.emit('b');
    expect(seen).toHaveLength(3);
  });

  it('a throwing handler does not stop the others; preventDefault only on cancelable events', () => {
    vi.useFakeTimers();
    try {
      const e = new EventEmitter();
      const after = vi.fn();
      e.on('x', () => {
        throw new Error('boom');
      });
      e.on('x', (ev: OTEvent) => ev.preventDefault());
      e.on('x', after);
      expect(e.emit('x', {}, true).isDefaultPrevented()).toBe(true);
      expect(e.emit('x', {}, false).isDefaultPrevented()).toBe(false);
      expect(after).toHaveBeenCalledTimes(2);
      // The error is rethrown asynchronously (reported, not swallowed).
      expect(() => vi.runOnlyPendingTimers()).toThrow('boom');
    } finally {
      vi.useRealTimers();
    }
  });

  it('event properties may include a type of their own (signal events) without changing who is called', () => {
    const e = new EventEmitter();
    const got: string[] = [];
    e.on('signal', (ev: OTEvent & { data: string }) => got.push(`${ev.type}/${ev.data}`));
    e.emit('signal', { type: 'signal:chat', data: 'hi' });
    expect(got).toEqual(['signal:chat/hi']);
  });
});
