import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { PRESENCE_BATCH_FROM, presenceIntervalMs, SessionLog, wsTextFrame } from './session-log.js';
import type { ClientSocket, LogReader } from './session-log.js';

/** A reader whose socket records the frames it is sent. */
function reader(batch = true, presenceOff = false): LogReader & { frames: (string | Buffer)[]; open: boolean; texts(): unknown[] } {
  const frames: (string | Buffer)[] = [];
  const r = {
    frames,
    open: true,
    batch,
    presenceOff,
    cursor: 0,
    joinIndex: 0,
    ackedSeq: 0,
    custom: false,
    socket: null as ClientSocket | null,
    texts(): unknown[] {
      return frames.flatMap((f) => {
        const v = JSON.parse(f.toString()) as unknown;
        return Array.isArray(v) ? v : [v];
      });
    },
  };
  r.socket = { send: (t) => frames.push(t), close: () => undefined, get isOpen() { return r.open; } };
  return r;
}

function session(readers: LogReader[], caps = { maxEntries: 1000, maxBytes: 1 << 20 }) {
  return new SessionLog({ readers: () => readers, size: () => readers.length, ...caps });
}

describe('SessionLog', () => {
  it('shares one frame between readers at the same cursor and keeps per-reader entries apart', () => {
    const a = reader();
    const b = reader();
    const c = reader();
    const log = session([a, b, c]);
    [a, b, c].forEach((r) => log.attach(r));
    log.append('{"type":"signal","data":"1"}', null);
    log.append('{"type":"response","id":7}', b);
    log.append('{"type":"streamCreated"}', null, c);
    log.flushAll();
    // a gets both broadcasts; b also its response; c not the stream it was excluded from.
    expect(a.texts()).toEqual([{ seq: 1, type: 'signal', data: '1' }, { seq: 3, type: 'streamCreated' }]);
    expect(b.texts()).toEqual([{ seq: 1, type: 'signal', data: '1' }, { seq: 2, type: 'response', id: 7 }, { seq: 3, type: 'streamCreated' }]);
    expect(c.texts()).toEqual([{ seq: 1, type: 'signal', data: '1' }]);
    log.close();
  });

  it('the same bytes object goes to every reader with nothing of its own', () => {
    const rs = [reader(), reader(), reader()];
    const log = session(rs);
    rs.forEach((r) => log.attach(r));
    log.append('{"type":"signal"}', null);
    log.append('{"type":"signal"}', null);
    log.flushAll();
    expect(rs[0]!.frames[0]).toBeInstanceOf(Buffer);
    expect(rs[1]!.frames[0]).toBe(rs[0]!.frames[0]);
    expect(rs[2]!.frames[0]).toBe(rs[0]!.frames[0]);
    log.close();
  });

  it('one message per frame for readers without batch; presence skipped for presenceOff readers', () => {
    const plain = reader(false);
    const quiet = reader(true, true);
    const log = session([plain, quiet]);
    [plain, quiet].forEach((r) => log.attach(r));
    log.append('{"type":"connectionCreated"}', null, null, { kind: 'created', item: '{}' });
    log.append('{"type":"signal"}', null);
    log.flushAll();
    expect(plain.frames.map(String)).toEqual(['{"seq":1,"type":"connectionCreated"}', '{"seq":2,"type":"signal"}']);
    expect(quiet.texts()).toEqual([{ seq: 2, type: 'signal' }]);
    log.close();
  });

  it('folds a run of connectionCreated into one connectionsCreated for batch readers only', () => {
    const batch = reader();
    const plain = reader(false);
    const log = session([batch, plain]);
    [batch, plain].forEach((r) => log.attach(r));
    const created = (id: string) => log.append(`{"type":"connectionCreated","connection":{"connectionId":"${id}"}}`, null, null, { kind: 'created', item: `{"connectionId":"${id}"}` });
    created('a');
    created('b');
    log.append('{"type":"signal"}', null);
    created('c');
    log.flushAll();
    expect(batch.texts()).toEqual([
      { seq: 2, type: 'connectionsCreated', connections: [{ connectionId: 'a' }, { connectionId: 'b' }] },
      { seq: 3, type: 'signal' },
      { seq: 4, type: 'connectionCreated', connection: { connectionId: 'c' } },
    ]);
    expect(plain.texts().map((m) => (m as { type: string }).type)).toEqual(['connectionCreated', 'connectionCreated', 'signal', 'connectionCreated']);
    log.close();
  });

  it('folds connectionDestroyed runs into connectionsDestroyed, never across kinds', () => {
    const r = reader();
    const log = session([r]);
    log.attach(r);
    const destroyed = (id: string) => log.append(`{"type":"connectionDestroyed","connection":{"connectionId":"${id}"},"reason":"clientDisconnected"}`, null, null, { kind: 'destroyed', item: `{"connection":{"connectionId":"${id}"},"reason":"clientDisconnected"}` });
    const created = (id: string) => log.append(`{"type":"connectionCreated","connection":{"connectionId":"${id}"}}`, null, null, { kind: 'created', item: `{"connectionId":"${id}"}` });
    destroyed('a');
    destroyed('b');
    created('c');
    created('d');
    log.flushAll();
    expect(r.texts()).toEqual([
      { seq: 2, type: 'connectionsDestroyed', destroyed: [{ connection: { connectionId: 'a' }, reason: 'clientDisconnected' }, { connection: { connectionId: 'b' }, reason: 'clientDisconnected' }] },
      { seq: 4, type: 'connectionsCreated', connections: [{ connectionId: 'c' }, { connectionId: 'd' }] },
    ]);
    log.close();
  });

  it('replays what a reader could see after its last seq; refuses what was dropped by the caps', () => {
    const live = reader();
    const gone = reader();
    const log = session([live, gone], { maxEntries: 8, maxBytes: 1 << 20 });
    [live, gone].forEach((r) => log.attach(r));
    log.append('{"type":"signal","n":1}', null);
    log.append('{"type":"response","n":2}', live);
    log.append('{"type":"signal","n":3}', null);
    log.flushAll();
    gone.open = false;
    log.append('{"type":"signal","n":4}', null);
    log.append('{"type":"response","n":5}', gone);
    // `gone` saw seq 3 last: it gets 4 and its own 5, not live's 2.
    expect(log.replay(gone, 3)!.map((t) => JSON.parse(t).n)).toEqual([4, 5]);
    expect(log.replay(gone, 99)).toBeNull();
    // Overflow the cap while `gone` is away: its resume from 5 can no longer be served.
    gone.open = false;
    for (let i = 0; i < 20; i++) log.append('{"type":"signal"}', null);
    expect(log.length).toBeLessThanOrEqual(8);
    expect(log.replay(gone, 5)).toBeNull();
    // The live reader was flushed before each drop: it lost nothing.
    log.flushAll();
    expect(live.texts().filter((m) => (m as { type: string }).type === 'signal')).toHaveLength(23);
    log.close();
  });

  it('drops entries every reader acknowledged', () => {
    const rs = [reader(), reader()];
    const log = session(rs);
    rs.forEach((r) => log.attach(r));
    for (let i = 0; i < 100; i++) log.append('{"type":"signal"}', null);
    log.flushAll();
    expect(log.length).toBe(100);
    log.ack(rs[0]!, 100);
    log.flushAll();
    expect(log.length).toBe(100);
    log.ack(rs[1]!, 90);
    log.flushAll();
    expect(log.length).toBe(10);
    log.close();
  });

  describe('flush timing', () => {
    beforeEach(() => vi.useFakeTimers({ toFake: ['setImmediate', 'setTimeout', 'clearTimeout', 'clearImmediate', 'performance'] }));
    afterEach(() => vi.useRealTimers());

    it('in a large session presence waits for the batch interval, a signal goes at once with it', () => {
      const rs = Array.from({ length: PRESENCE_BATCH_FROM + 36 }, () => reader());
      const log = session(rs);
      rs.forEach((r) => log.attach(r));
      log.flushAll();
      const wait = presenceIntervalMs(rs.length);
      expect(wait).toBeGreaterThan(0);
      log.append('{"type":"connectionCreated"}', null, null, { kind: 'created', item: '{}' });
      vi.advanceTimersByTime(1);
      expect(rs[0]!.frames).toHaveLength(0);
      vi.advanceTimersByTime(wait);
      expect(rs[0]!.texts()).toEqual([{ seq: 1, type: 'connectionCreated' }]);
      log.append('{"type":"connectionCreated"}', null, null, { kind: 'created', item: '{}' });
      log.append('{"type":"signal"}', null);
      vi.advanceTimersByTime(0);
      expect(rs[0]!.texts()).toEqual([{ seq: 1, type: 'connectionCreated' }, { seq: 2, type: 'connectionCreated' }, { seq: 3, type: 'signal' }]);
      log.close();
    });

    it('in a small session presence goes at the end of the turn; a response only flushes its reader', () => {
      const rs = [reader(), reader()];
      const log = session(rs);
      rs.forEach((r) => log.attach(r));
      log.append('{"type":"connectionCreated"}', null, null, { kind: 'created', item: '{}' });
      vi.advanceTimersByTime(0);
      expect(rs[1]!.frames).toHaveLength(1);
      const big = Array.from({ length: 200 }, () => reader());
      const log2 = session(big);
      big.forEach((r) => log2.attach(r));
      log2.flushAll();
      log2.append('{"type":"connectionCreated"}', null, null, { kind: 'created', item: '{}' });
      log2.append('{"type":"response"}', big[5]!);
      vi.advanceTimersByTime(0);
      // The reader with a response got it (and the presence before it); the others wait.
      expect(big[5]!.texts()).toEqual([{ seq: 1, type: 'connectionCreated' }, { seq: 2, type: 'response' }]);
      expect(big[0]!.frames).toHaveLength(0);
      vi.advanceTimersByTime(presenceIntervalMs(200));
      expect(big[0]!.frames).toHaveLength(1);
      expect(big[5]!.frames).toHaveLength(1);
      log.close();
      log2.close();
    });
  });
});

describe('wsTextFrame', () => {
  it('frames that a real ws client reads back, for each length encoding', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    const texts = ['hi', 'é'.repeat(100), 'x'.repeat(70_000)];
    wss.on('connection', (ws) => {
      const raw = (ws as unknown as { _socket: { write(b: Buffer): void } })._socket;
      for (const t of texts) raw.write(wsTextFrame(Buffer.from(t)));
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
    const got: { text: string; binary: boolean }[] = [];
    await new Promise<void>((resolve, reject) => {
      client.on('error', reject);
      client.on('message', (data, isBinary) => {
        got.push({ text: data.toString(), binary: isBinary });
        if (got.length === texts.length) resolve();
      });
    });
    expect(got).toEqual(texts.map((text) => ({ text, binary: false })));
    client.terminate();
    wss.close();
    await new Promise((r) => http.close(r));
  });
});
