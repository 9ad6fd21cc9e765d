/**
 * A real HTTP server on 127.0.0.1:0 that records every request (method, path, query, headers, raw
 * body) and answers with a configured status, body and Content-Type. The SDK under test talks to it
 * over its real transport (global fetch), nothing is mocked.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, exactly as sent (not normalised). */
  path: string;
  /** Query parameters in order. */
  query: Array<[string, string]>;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status: number;
  /** A string is sent as is; anything else as JSON text. */
  body?: unknown;
  /** Default `application/json` when there is a body. `null` sends no Content-Type. */
  contentType?: string | null;
  /** Wait this long before answering (for timeout tests). */
  delayMs?: number;
  /** Destroy the socket instead of answering (network-failure tests). */
  destroy?: boolean;
}

export interface RecordingServer {
  url: string;
  requests: RecordedRequest[];
  /** Set the reply for the following requests (a function gets the recorded request). */
  reply(r: Reply | ((req: RecordedRequest) => Reply)): void;
  /** Forget recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  let replyWith: Reply | ((req: RecordedRequest) => Reply) = { status: 200, body: {} };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, r: Reply): void => {
    const headers: Record<string, string> = {};
    let text = '';
    if (r.body !== undefined) {
      text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      if (r.contentType !== null) headers['Content-Type'] = r.contentType ?? 'application/json';
    } else if (r.contentType) {
      headers['Content-Type'] = r.contentType;
    }
    res.writeHead(r.status, headers);
    res.end(text);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: q < 0 ? raw : raw.slice(0, q),
        query: q < 0 ? [] : [...new URLSearchParams(raw.slice(q + 1))],
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const r = typeof replyWith === 'function' ? replyWith(recorded) : replyWith;
      if (r.destroy) {
        req.socket.destroy();
        return;
      }
      if (r.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!res.destroyed) send(res, r);
        }, r.delayMs);
        timers.add(t);
      } else {
        send(res, r);
      }
    });
  });
  // Idle keep-alive sockets must not be closed by the server while a client may reuse them: on a
  // loaded machine that race turns into a spurious "socket closed" failure of a test's request.
  server.keepAliveTimeout = 120_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply(r) {
      replyWith = r;
    },
    reset() {
      requests.length = 0;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
