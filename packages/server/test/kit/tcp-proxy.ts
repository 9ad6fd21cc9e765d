/** A TCP proxy on loopback whose connections a test can cut, to break a page's WebSocket mid-call. */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/** A running {@link startTcpProxy}. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: use it where the client would use the server's URL. */
  readonly url: string;
  /** Destroy every open connection (both sides); new connections still pass. */
  cut(): void;
  /** Until {@link TcpProxy.release}: new connections are closed at once (the server is unreachable). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

/** Forwards every connection to `127.0.0.1:<targetPort>` until {@link TcpProxy.cut} or close. */
export function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let held = false;
  const server = createServer((down) => {
    if (held) {
      down.on('error', () => undefined);
      down.destroy();
      return;
    }
    const up = connect(targetPort, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        cut: () => sockets.forEach((s) => s.destroy()),
        hold: () => void (held = true),
        release: () => void (held = false),
        close: () =>
          new Promise<void>((r) => {
            sockets.forEach((s) => s.destroy());
            server.close(() => r());
          }),
      }),
    ),
  );
}
