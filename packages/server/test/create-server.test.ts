import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createServer } from '../src/create-server.js';
import { createMemoryStore } from '../src/storage/memory.js';

/** Log lines of a server, parsed. */
function logSink(): { stream: Writable; lines: { msg?: string; level?: number }[] } {
  const lines: { msg?: string; level?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as { msg?: string });
      done();
    },
  });
  return { stream, lines };
}

describe('createServer start and shutdown', () => {
  it('a start that fails half-way (port taken) rejects and closes what it built, the injected store included', async () => {
    const taken = createHttpServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as AddressInfo;
    const store = createMemoryStore();
    const log = logSink();
    try {
      await expect(createServer({ port, host: '127.0.0.1', store: 'memory', sip: false }, { store, logStream: log.stream })).rejects.toThrow(/EADDRINUSE/);
      expect(() => store.listProjects()).toThrow(/closed/);
      // Every closer ran without an error of its own (parts not built are skipped).
      expect(log.lines.filter((l) => /close failed/.test(l.msg ?? ''))).toEqual([]);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('close() stops the HTTP server and closes the injected store, once however often it is called', async () => {
    const store = createMemoryStore();
    const server = await createServer({ port: 0, host: '127.0.0.1', store: 'memory', sip: false, logLevel: 'silent' }, { store });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const closing = server.close();
    expect(server.close()).toBe(closing);
    await closing;
    expect(() => store.listProjects()).toThrow(/closed/);
    await expect(fetch(`${server.url}/readyz`)).rejects.toThrow();
  });
});
