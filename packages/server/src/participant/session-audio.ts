/**
 * What the server participants of one session share: a plain-RTP tap of every audio stream of the
 * session, and one {@link Mixer} per rate the participants hear at, fed by those taps. A stream
 * is tapped once however many participants hear it; the taps and mixers end with the last
 * participant of the session ({@link SessionAudioHub.release}).
 */
import { createSocket, type Socket } from 'node:dgram';
import type { RtStream } from '@tokhost/protocol';
import type { MediaRoom, MediaTap } from '../media/types.js';
import type { CodecName, MixRate } from './audio.js';
import { Mixer } from './mixer.js';

/** A pino-compatible logger (only what participants use). */
export interface ParticipantLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

interface Tapped {
  tap: MediaTap;
  socket: Socket;
  codec: CodecName;
}

export class SessionAudio {
  room: MediaRoom | undefined;
  private readonly taps = new Map<string, Tapped | 'pending'>();
  private readonly mixers = new Map<MixRate, Mixer>();
  /** Audio streams the session has, as the participants see them. */
  private readonly known = new Map<string, RtStream>();
  /** Participants holding this session's audio. */
  users = 0;
  closed = false;

  constructor(
    readonly sessionId: string,
    private readonly logger: ParticipantLogger,
  ) {}

  /** The mixer at `rate`, made on first use with an input for every stream already tapped. */
  mixer(rate: MixRate): Mixer {
    let m = this.mixers.get(rate);
    if (!m) {
      m = new Mixer((err) => this.logger.warn({ err: err.message, sessionId: this.sessionId, rate }, 'participant mixer error'), rate);
      for (const [id, t] of this.taps) if (t !== 'pending') m.addInput(id, t.codec);
      this.mixers.set(rate, m);
    }
    return m;
  }

  /** Existing mixers (stats). */
  mixerAt(rate: MixRate): Mixer | undefined {
    return this.mixers.get(rate);
  }

  /** The router room is known once a participant's connection is in it: tap what was seen before. */
  setRoom(room: MediaRoom): void {
    if (this.room) return;
    this.room = room;
    for (const id of this.known.keys()) void this.tap(id);
  }

  streamSeen(s: RtStream): void {
    if (this.known.has(s.streamId)) return;
    this.known.set(s.streamId, s);
    void this.tap(s.streamId);
  }

  streamGone(streamId: string): void {
    this.known.delete(streamId);
    this.untap(streamId);
  }

  /** The session's audio streams, in the order they were seen. */
  streams(): RtStream[] {
    return [...this.known.values()];
  }

  isTapped(streamId: string): boolean {
    const t = this.taps.get(streamId);
    return t !== undefined && t !== 'pending';
  }

  async tap(streamId: string): Promise<void> {
    const room = this.room;
    if (!room || this.closed || this.taps.has(streamId)) return;
    this.taps.set(streamId, 'pending');
    const socket = createSocket('udp4');
    try {
      await bindLoopback(socket);
      const tap = await room.tap(streamId, { host: '127.0.0.1', audioPort: socket.address().port });
      if (this.taps.get(streamId) !== 'pending') {
        void tap.close().catch(() => undefined);
        socket.close();
        return;
      }
      const codec = codecOfTap(tap.sdp);
      if (!codec) throw new Error(`tap of ${streamId} has no audio codec the mixer decodes`);
      for (const m of this.mixers.values()) m.addInput(streamId, codec.name);
      socket.on('message', (buf) => {
        if (buf.length < 12 || (buf[1]! & 0x7f) !== codec.pt) return;
        const cc = buf[0]! & 0x0f;
        let hl = 12 + cc * 4;
        if (buf[0]! & 0x10) hl += 4 + buf.readUInt16BE(hl + 2) * 4;
        if (hl > buf.length) return;
        const seq = buf.readUInt16BE(2);
        const payload = buf.subarray(hl);
        for (const m of this.mixers.values()) m.push(streamId, seq, payload);
      });
      this.taps.set(streamId, { tap, socket, codec: codec.name });
    } catch (err) {
      this.taps.delete(streamId);
      socket.close();
      this.logger.debug({ err: (err as Error).message, streamId }, 'participant audio: tap failed');
    }
  }

  untap(streamId: string): void {
    const t = this.taps.get(streamId);
    this.taps.delete(streamId);
    for (const m of this.mixers.values()) m.removeInput(streamId);
    if (t && t !== 'pending') {
      void t.tap.close().catch(() => undefined);
      t.socket.close();
    }
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.taps.keys()]) this.untap(id);
    for (const m of this.mixers.values()) m.close();
    this.mixers.clear();
  }
}

/** The {@link SessionAudio} of every session that has server participants. */
export class SessionAudioHub {
  private readonly sessions = new Map<string, SessionAudio>();

  constructor(private readonly logger: ParticipantLogger) {}

  acquire(sessionId: string): SessionAudio {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = new SessionAudio(sessionId, this.logger);
      this.sessions.set(sessionId, s);
    }
    s.users++;
    return s;
  }

  release(s: SessionAudio): void {
    s.users--;
    if (s.users <= 0 && this.sessions.get(s.sessionId) === s) {
      s.close();
      this.sessions.delete(s.sessionId);
    }
  }

  all(): SessionAudio[] {
    return [...this.sessions.values()];
  }

  close(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}

function codecOfTap(sdp: string): { name: CodecName; pt: number } | undefined {
  const m = /a=rtpmap:(\d+) ([A-Za-z0-9]+)\//.exec(sdp);
  if (!m) return undefined;
  const name = m[2]!.toLowerCase();
  const pt = Number(m[1]);
  if (name === 'opus') return { name: 'opus', pt };
  if (name === 'pcmu') return { name: 'PCMU', pt };
  if (name === 'pcma') return { name: 'PCMA', pt };
  return undefined;
}

/** Bind a UDP socket to a free loopback port; once bound, its errors are ignored like a lost datagram. */
export async function bindLoopback(socket: Socket): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
}
