import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { lingerOnClose } from './linger.js';

/** One part of the server's HTTP surface: answers and returns true, or returns false to pass the request on. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const json = (status: number, message: string, description: string) => JSON.stringify({ code: status, message, description });

/**
 * The HTTP server: each request is offered to `handlers` in order; none taking it answers 404, a
 * handler that throws answers 500 (or cuts the response when it had begun). Malformed requests
 * get a 400 and the socket is closed.
 */
export function createHttpServer(handlers: readonly HttpHandler[], logger: Logger): Server {
  const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 60_000 }, (req, res) => {
    lingerOnClose(req);
    try {
      for (const handle of handlers) if (handle(req, res)) return;
    } catch (err) {
      logger.error({ err, method: req.method }, 'request handler threw');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(json(500, 'Internal server error', 'The server failed to handle the request'));
      } else res.destroy();
      return;
    }
    const body = json(404, 'Not Found', 'No resource at this path');
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable && !(err as NodeJS.ErrnoException).code?.startsWith('ECONN')) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

/** Listens on `host:port` and resolves with the base URL (the real port when `port` was 0). */
export async function listen(server: Server, port: number, host: string): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostInUrl = address.family === 'IPv6' || host.includes(':') ? `[${host.replace(/^\[|\]$/g, '')}]` : host;
  return { url: `http://${hostInUrl}:${address.port}`, port: address.port };
}

/** Stops listening and closes every connection; resolves once the server is closed (at once when it never listened). */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
