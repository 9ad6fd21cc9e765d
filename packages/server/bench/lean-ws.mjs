// A lean WebSocket client for load generation (bench only): raw TCP, one fixed handshake, client
// frames masked as RFC 6455 requires, server frames parsed just enough to hand over text
// payloads as Buffers. It exists because the `ws` client spends about as much CPU per connect as
// the server being measured, and on a 2-core machine that CPU is taken from the server.
// Not a general client: no fragmentation (servers here never fragment), no extensions.
import { randomFillSync } from 'node:crypto';
import { connect } from 'node:net';

/** Bytes and socket reads received by all lean clients (the bench prints them). */
export const leanStats = { bytes: 0, reads: 0 };

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/**
 * Open a WebSocket to `url` (ws://host:port/path). `onOpen(sock)` runs after the 101 answer;
 * `onText(buf, sock)` gets each text frame's payload. Returns the socket wrapper at once.
 */
export function leanConnect(url, { onOpen, onText, onError, onClose }) {
  const u = new URL(url);
  const tcp = connect({ host: u.hostname, port: Number(u.port), noDelay: true });
  let open = false;
  let pending = null; // unparsed bytes
  const self = {
    open: false,
    send(text) {
      tcp.write(maskedFrame(0x1, Buffer.from(text)));
    },
    close() {
      if (!tcp.destroyed) tcp.end(maskedFrame(0x8, Buffer.from([0x03, 0xe8])));
    },
    terminate() {
      tcp.destroy();
    },
  };
  tcp.on('connect', () => {
    tcp.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
  tcp.on('error', (err) => onError?.(err));
  tcp.on('close', () => onClose?.());
  tcp.on('data', (chunk) => {
    leanStats.bytes += chunk.length;
    leanStats.reads++;
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    if (!open) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        pending = buf;
        return;
      }
      if (!buf.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) {
        onError?.(new Error(`handshake refused: ${buf.toString('latin1', 0, Math.min(end, 200))}`));
        tcp.destroy();
        return;
      }
      open = true;
      self.open = true;
      buf = buf.subarray(end + 4);
      onOpen?.(self);
    }
    let off = 0;
    while (buf.length - off >= 2) {
      const b0 = buf[off];
      let len = buf[off + 1] & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (buf.length - off < head + len) break;
      const payload = buf.subarray(off + head, off + head + len);
      off += head + len;
      const opcode = b0 & 0x0f;
      if (opcode === 0x1) onText(payload, self);
      else if (opcode === 0x9) tcp.write(maskedFrame(0xa, Buffer.from(payload)));
      else if (opcode === 0x8) tcp.end();
    }
    if (off < buf.length) pending = Buffer.from(buf.subarray(off));
  });
  return self;
}

function maskedFrame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const out = Buffer.allocUnsafe(head + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = out.subarray(head - 4, head);
  randomFillSync(mask);
  for (let i = 0; i < len; i++) out[head + i] = payload[i] ^ mask[i & 3];
  return out;
}
