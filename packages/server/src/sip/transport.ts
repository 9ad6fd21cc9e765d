/**
 * SIP transports (RFC 3261 §18): one UDP socket, a TCP listener and, when a certificate is
 * configured, a TLS listener; outgoing TCP/TLS connections are opened on demand and reused for
 * every message to the same peer (and for requests the peer sends back on them, which is what
 * UAs behind NAT and most phones do).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, createServer as createTcpServer, isIP, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { lookup } from 'node:dns/promises';
import { parseMessage, serializeMessage, SipParseError, SipStreamParser, type SipMessage } from './message.js';

export type SipTransportName = 'udp' | 'tcp' | 'tls';

export interface SipTarget {
  transport: SipTransportName;
  host: string;
  port: number;
}

/** A message as received, with the way back. */
export interface InboundMessage {
  msg: SipMessage;
  transport: SipTransportName;
  remote: { address: string; port: number };
  /** Send on the flow it came in on (the same connection, or UDP to its source address and port). */
  reply(msg: SipMessage): void;
}

export interface SipTransportOptions {
  /** Local address the sockets bind to. */
  bindAddress: string;
  /** Address written in Via and Contact (a public IP behind 1:1 NAT). Default: `bindAddress`. */
  publicAddress?: string;
  /** UDP and TCP port (0: any free port, the same number for both when possible). */
  port: number;
  /** TLS listener port (0: any). Used only with `tls`. */
  tlsPort?: number;
  /** PEM certificate and key of the TLS listener; outgoing TLS works without them. */
  tls?: { cert: string; key: string };
  /** Check the far end's certificate on outgoing TLS. Default true. */
  tlsVerify?: boolean;
  /** Extra CA certificates (PEM) trusted for outgoing TLS (self-signed peers). */
  tlsCa?: string;
  onMessage(m: InboundMessage): void;
  logger?: { debug(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

const CONNECT_TIMEOUT_MS = 5000;
/** Idle outgoing connections are closed after this long without traffic. */
const IDLE_MS = 5 * 60_000;

interface Flow {
  socket: TcpSocket | TLSSocket;
  transport: 'tcp' | 'tls';
  ready: Promise<void>;
  lastUsed: number;
}

export class SipTransport {
  private udp: UdpSocket | undefined;
  private tcp: TcpServer | undefined;
  private tlsServer: TlsServer | undefined;
  private readonly flows = new Map<string, Flow>();
  private readonly sweep: NodeJS.Timeout;
  private closed = false;
  udpPort = 0;
  tcpPort = 0;
  tlsPort = 0;

  constructor(private readonly o: SipTransportOptions) {
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, f] of this.flows) if (now - f.lastUsed > IDLE_MS) {
        f.socket.destroy();
        this.flows.delete(k);
      }
    }, 60_000);
    this.sweep.unref();
  }

  get advertisedAddress(): string {
    return this.o.publicAddress ?? this.o.bindAddress;
  }

  /** Binds UDP, then TCP on the same port (and TLS when configured). */
  async start(): Promise<void> {
    const udp = createSocket({ type: isIP(this.o.bindAddress) === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.o.port, this.o.bindAddress, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.o.logger?.warn({ err: err.message }, 'sip udp error'));
    udp.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo.address, rinfo.port));
    this.udp = udp;
    this.udpPort = udp.address().port;
    this.tcp = createTcpServer((s) => this.adopt(s, 'tcp'));
    this.tcpPort = await listen(this.tcp, this.udpPort, this.o.bindAddress).catch(() => listen(this.tcp!, 0, this.o.bindAddress));
    if (this.o.tls) {
      this.tlsServer = createTlsServer({ cert: this.o.tls.cert, key: this.o.tls.key }, (s) => this.adopt(s, 'tls'));
      this.tlsPort = await listen(this.tlsServer, this.o.tlsPort ?? 0, this.o.bindAddress);
    }
  }

  /** The port this transport listens on for `t` (0 when it does not). */
  listenPort(t: SipTransportName): number {
    return t === 'udp' ? this.udpPort : t === 'tcp' ? this.tcpPort : this.tlsPort;
  }

  /** Local port of the flow to `target` (TCP/TLS without a listener: the connection's own port). */
  localPortFor(target: SipTarget): number {
    if (target.transport === 'udp') return this.udpPort;
    const listen = this.listenPort(target.transport);
    if (listen) return listen;
    return this.flows.get(key(target))?.socket.localPort ?? 0;
  }

  /** Opens the TCP/TLS connection to `target` now (so its local port is known). */
  async connect(target: SipTarget): Promise<void> {
    if (target.transport === 'udp') return;
    await this.flow(target).ready;
  }

  async send(target: SipTarget, msg: SipMessage): Promise<void> {
    if (this.closed) throw new Error('SIP transport is closed');
    const bytes = serializeMessage(msg);
    this.o.logger?.debug({ to: `${target.transport}:${target.host}:${target.port}`, start: bytes.subarray(0, bytes.indexOf(13)).toString('utf8') }, 'sip send');
    if (target.transport === 'udp') {
      const host = isIP(target.host) ? target.host : (await lookup(target.host, { family: 4 })).address;
      await new Promise<void>((resolve, reject) => this.udp!.send(bytes, target.port, host, (err) => (err ? reject(err) : resolve())));
      return;
    }
    const f = this.flow(target);
    await f.ready;
    f.lastUsed = Date.now();
    f.socket.write(bytes);
  }

  private flow(target: SipTarget): Flow {
    const k = key(target);
    const existing = this.flows.get(k);
    if (existing && !existing.socket.destroyed) return existing;
    const transport = target.transport as 'tcp' | 'tls';
    const socket =
      transport === 'tls'
        ? tlsConnect({
            host: target.host,
            port: target.port,
            ...(isIP(target.host) ? {} : { servername: target.host }),
            rejectUnauthorized: this.o.tlsVerify !== false,
            ...(this.o.tlsCa ? { ca: this.o.tlsCa } : {}),
            ...(this.o.bindAddress !== '0.0.0.0' && this.o.bindAddress !== '::' ? { localAddress: this.o.bindAddress } : {}),
          })
        : netConnect({ host: target.host, port: target.port, ...(this.o.bindAddress !== '0.0.0.0' && this.o.bindAddress !== '::' ? { localAddress: this.o.bindAddress } : {}) });
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${transport.toUpperCase()} connection to ${target.host}:${target.port} timed out`));
      }, CONNECT_TIMEOUT_MS);
      socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(t);
        reject(err);
      });
    });
    ready.catch(() => undefined);
    const f: Flow = { socket, transport, ready, lastUsed: Date.now() };
    this.flows.set(k, f);
    this.wire(socket, transport, k);
    return f;
  }

  private adopt(socket: TcpSocket | TLSSocket, transport: 'tcp' | 'tls'): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const k = key({ transport, host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
    this.flows.set(k, { socket, transport, ready: Promise.resolve(), lastUsed: Date.now() });
    this.wire(socket, transport, k);
  }

  private wire(socket: TcpSocket | TLSSocket, transport: 'tcp' | 'tls', k: string): void {
    const parser = new SipStreamParser();
    socket.on('data', (chunk: Buffer) => {
      let msgs: SipMessage[];
      try {
        msgs = parser.push(chunk);
      } catch (err) {
        this.o.logger?.warn({ err: (err as Error).message, transport }, 'sip stream broken; closing');
        socket.destroy();
        return;
      }
      const f = this.flows.get(k);
      if (f) f.lastUsed = Date.now();
      for (const msg of msgs) {
        this.deliver({
          msg,
          transport,
          remote: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
          reply: (m) => {
            const bytes = this.serializeOrLog(m);
            if (bytes && !socket.destroyed) socket.write(bytes);
          },
        });
      }
    });
    socket.on('error', (err) => this.o.logger?.debug({ err: err.message, transport }, 'sip connection error'));
    socket.on('close', () => {
      if (this.flows.get(k)?.socket === socket) this.flows.delete(k);
    });
  }

  private onDatagram(buf: Buffer, address: string, port: number): void {
    // RFC 5626 keep-alives (CRLF) and stray bytes.
    if (buf.length < 16) return;
    let msg: SipMessage;
    try {
      msg = parseMessage(buf, true);
    } catch (err) {
      if (err instanceof SipParseError) this.o.logger?.debug({ err: err.message, from: `${address}:${port}` }, 'sip datagram dropped');
      return;
    }
    this.deliver({
      msg,
      transport: 'udp',
      remote: { address, port },
      reply: (m) => {
        const bytes = this.serializeOrLog(m);
        if (bytes && !this.closed) this.udp?.send(bytes, port, address);
      },
    });
  }

  /** Hands a message on; what a far end sent must never throw out of a socket handler (it would end the process). */
  private deliver(m: InboundMessage): void {
    try {
      this.o.onMessage(m);
    } catch (err) {
      this.o.logger?.warn({ err: (err as Error).message, transport: m.transport, from: `${m.remote.address}:${m.remote.port}` }, 'sip message dropped: handling it failed');
    }
  }

  /** A reply the serializer refuses (e.g. it would echo a far end's control characters) is not sent. */
  private serializeOrLog(m: SipMessage): Buffer | undefined {
    try {
      return serializeMessage(m);
    } catch (err) {
      this.o.logger?.warn({ err: (err as Error).message }, 'sip reply not sent');
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweep);
    for (const f of this.flows.values()) f.socket.destroy();
    this.flows.clear();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tlsServer ? this.tlsServer.close(() => r()) : r())),
    ]);
  }
}

function key(t: SipTarget): string {
  return `${t.transport}|${t.host}|${t.port}`;
}

function listen(server: TcpServer | TlsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
}
