import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** How long a closing connection keeps reading (and discarding) what the client still sends, ms. */
export const LINGER_MS = 5000;

const kPending = Symbol('tokhost.lingerRequest');
type LingeringSocket = Socket & { [kPending]?: IncomingMessage };

/**
 * Arm a lingering close for the connection of `req`. When node:http closes a connection after an
 * answer (`connection: close`, asked by the client or by a 413 past the drain bound) it calls
 * `socket.destroySoon()`, which closes the descriptor as soon as the answer is written. If the
 * client is still uploading, the kernel then answers its next segment with a reset, and the
 * client's kernel throws away the answer it had not read yet: the client (or a load balancer, as a
 * 502) sees ECONNRESET instead of the 413. Like nginx's `lingering_close`, the connection here sends
 * its FIN after the answer, keeps reading and discarding for up to {@link LINGER_MS}, and closes
 * once the client has closed its side. Requests whose body was read to the end close at once, as
 * before.
 */
export function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket as LingeringSocket;
  if (socket[kPending] === undefined) {
    const destroySoon = socket.destroySoon.bind(socket);
    socket.destroySoon = () => {
      const pending = socket[kPending];
      if (pending === undefined || pending.complete || socket.destroyed) {
        destroySoon();
        return;
      }
      socket.end();
      pending.resume();
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    };
  }
  socket[kPending] = req;
}
