/**
 * Video to a SIP far end (`dial` with `video: true`): the session's composed picture (the
 * archive/broadcast compositor, H.264 in MPEG-TS) is re-packetized to RTP (RFC 6184) by ffmpeg
 * (`-c:v copy`, no second encode) and relayed from the port our SDP advertised (symmetric RTP),
 * SRTP-protected when the call is `secure`. One way: video the far end sends is not published.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { CompositionLease } from '../compose/compositions.js';
import type { TsFanout } from '../compose/ts-fanout.js';
import { SrtpContext } from './srtp.js';

export interface VideoLegOptions {
  bindAddress: string;
  minPort: number;
  maxPort: number;
  ffmpegPath?: string;
}

export class VideoLeg {
  private socket: Socket | undefined;
  private relay: Socket | undefined;
  port = 0;
  private remote: { address: string; port: number } | undefined;
  private tx: SrtpContext | undefined;
  private ffmpeg: ChildProcess | undefined;
  private lease: CompositionLease | undefined;
  private unsubscribe: (() => void) | undefined;
  packetsOut = 0;
  closed = false;
  /** The RTP packetizer failed (the call goes on with audio). */
  onError: (message: string) => void = () => undefined;

  constructor(private readonly o: VideoLegOptions) {}

  async open(): Promise<void> {
    const { minPort, maxPort } = this.o;
    const ports = minPort === 0 ? [0] : Array.from({ length: Math.floor((maxPort - minPort) / 2) + 1 }, (_, i) => minPort + (minPort % 2) + i * 2).filter((p) => p <= maxPort);
    const start = randomInt(0, ports.length);
    for (const port of [...ports.slice(start), ...ports.slice(0, start)]) {
      const s = createSocket(this.o.bindAddress.includes(':') ? 'udp6' : 'udp4');
      const ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.bind(port, this.o.bindAddress, () => resolve(true));
      });
      if (!ok) {
        s.close();
        continue;
      }
      s.on('error', () => undefined);
      // Video from the far end is not used (the session gets the SIP leg's audio only).
      s.on('message', () => undefined);
      this.socket = s;
      this.port = s.address().port;
      break;
    }
    if (!this.socket) throw new Error(`no free RTP port for video in ${minPort}-${maxPort}`);
    const relay = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      relay.bind(0, '127.0.0.1', () => resolve());
    });
    relay.on('error', () => undefined);
    relay.on('message', (pkt) => {
      // RTP only: ffmpeg's RTCP sender reports (PT 200) go nowhere.
      if (this.closed || !this.remote || pkt.length < 12 || (pkt[1]! >= 200 && pkt[1]! <= 204)) return;
      const wire = this.tx ? this.tx.protect(pkt) : pkt;
      this.packetsOut++;
      this.socket?.send(wire, this.remote.port, this.remote.address);
    });
    this.relay = relay;
  }

  /** Starts sending the composition to the far end's video port. */
  async start(o: { lease: CompositionLease; address: string; port: number; payloadType: number; localKey?: string }): Promise<void> {
    this.remote = { address: o.address, port: o.port };
    if (o.localKey) this.tx = new SrtpContext(o.localKey);
    this.lease = o.lease;
    const ff = spawn(
      this.o.ffmpegPath ?? 'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-fflags', '+genpts+nobuffer', '-probesize', '32768', '-analyzeduration', '1500000', '-f', 'mpegts', '-i', 'pipe:0', '-map', '0:v:0', '-c:v', 'copy', '-f', 'rtp', '-payload_type', String(o.payloadType), '-ssrc', String(randomInt(1, 0x7fffffff)), `rtp://127.0.0.1:${(this.relay!.address() as { port: number }).port}?pkt_size=1200`],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    ff.stdin?.on('error', () => undefined);
    let err = '';
    ff.stderr?.on('data', (d: Buffer) => {
      if (err.length < 2000) err += d.toString();
    });
    ff.on('exit', (code) => {
      if (!this.closed) this.onError(`ffmpeg (H.264 to RTP) exited with ${code}: ${err.trim().slice(0, 500)}`);
    });
    this.ffmpeg = ff;
    const attach = (out: TsFanout) => {
      this.unsubscribe?.();
      this.unsubscribe = out.subscribe((chunk) => {
        if (!this.closed && ff.stdin?.writable) ff.stdin.write(chunk);
      });
    };
    attach(o.lease.output);
    o.lease.on('outputChanged', attach);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.ffmpeg?.stdin?.end();
    this.ffmpeg?.kill('SIGKILL');
    this.socket?.close();
    this.relay?.close();
    await this.lease?.release().catch(() => undefined);
  }
}
