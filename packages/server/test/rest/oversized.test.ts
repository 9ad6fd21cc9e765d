import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_A, projectJwt, SECRET_A, startServer } from './harness.js';

type Server = Awaited<ReturnType<typeof startServer>>;

interface Upload {
  /** Everything the server sent before the socket ended. */
  answer: string;
  /** The socket error, if the connection was reset rather than closed. */
  error: string | null;
  /** Body bytes the client got to write before it stopped. */
  written: number;
}

/**
 * A client that does what a load balancer or curl does: it keeps writing its body (in 64 KiB
 * pieces, as fast as the socket takes them) whether or not an answer has come, and reads
 * whatever the server sends. A reset while it uploads makes the kernel throw away the answer.
 */
function upload(url: string, path: string, headers: Record<string, string | number>, bodyBytes: number | 'endless', opts: { chunked?: boolean; readAfterMs?: number } = {}): Promise<Upload> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    let error: string | null = null;
    let written = 0;
    const piece = Buffer.alloc(64 * 1024, 0x78);
    const head = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), opts.chunked ? 'transfer-encoding: chunked' : `content-length: ${bodyBytes === 'endless' ? 10_000_000_000 : bodyBytes}`, '', ''].join('\r\n');
    const stop = setTimeout(() => socket.destroy(), 15_000);
    const pump = () => {
      while (!socket.destroyed && (bodyBytes === 'endless' || written < bodyBytes)) {
        const n = bodyBytes === 'endless' ? piece.length : Math.min(piece.length, bodyBytes - written);
        written += n;
        const chunk = opts.chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]) : piece.subarray(0, n);
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (opts.chunked && !socket.destroyed) socket.write('0\r\n\r\n');
    };
    socket.on('connect', () => {
      // Like a client busy sending: the answer waits in the kernel until it looks.
      if (opts.readAfterMs) {
        socket.pause();
        setTimeout(() => socket.resume(), opts.readAfterMs);
      }
      socket.write(head);
      pump();
    });
    socket.on('data', (d) => {
      answer += d.toString('latin1');
      // Enough to judge, and an endless uploader has to stop at some point.
      if (bodyBytes === 'endless' && /\r\n\r\n[\s\S]*\}/.test(answer)) socket.destroy();
    });
    socket.on('error', (err) => {
      error = (err as NodeJS.ErrnoException).code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(stop);
      resolve({ answer, error, written });
    });
  });
}

describe('oversized request bodies get their 413', () => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  const auth = () => ({ 'content-type': 'application/json', 'x-opentok-auth': projectJwt(KEY_A, SECRET_A) });

  it('a 5 MiB archive POST is answered 413 every time, never by a reset', async () => {
    for (let i = 0; i < 8; i++) {
      const r = await upload(server.url, `/v2/project/${KEY_A}/archive`, { ...auth(), connection: 'close' }, 5 * 1024 * 1024);
      expect(r.error, `attempt ${i}: ${r.answer.slice(0, 80)}`).toBeNull();
      expect(r.answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(r.answer).toContain('"code":413');
    }
  });

  it('also chunked, and also when authentication fails before the body is read', async () => {
    const chunked = await upload(server.url, `/v2/project/${KEY_A}/archive`, { ...auth(), connection: 'close' }, 3 * 1024 * 1024, { chunked: true });
    expect(chunked.error).toBeNull();
    expect(chunked.answer).toMatch(/^HTTP\/1\.1 413 /);
    const unauth = await upload(server.url, `/v2/project/${KEY_A}/archive`, { 'content-type': 'application/json', connection: 'close' }, 5 * 1024 * 1024);
    expect(unauth.error).toBeNull();
    expect(unauth.answer).toMatch(/^HTTP\/1\.1 403 /);
  });

  it('a client that never stops uploading still reads the 413 before the server closes', async () => {
    const r = await upload(server.url, `/v2/project/${KEY_A}/archive`, auth(), 'endless', { chunked: true, readAfterMs: 1000 });
    expect(r.error).toBeNull();
    expect(r.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.answer).toContain('"code":413');
    expect(r.written).toBeGreaterThan(16 * 1024 * 1024);
    const declared = await upload(server.url, `/v2/project/${KEY_A}/archive`, auth(), 'endless', { readAfterMs: 300 });
    expect(declared.error).toBeNull();
    expect(declared.answer).toMatch(/^HTTP\/1\.1 413 /);
  });
});
