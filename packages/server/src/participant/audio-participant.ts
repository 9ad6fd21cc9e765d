/**
 * A server participant with audio: one implementation for every part of the server that joins a
 * routed session as a connection and speaks or listens (SIP calls, Audio Connector sockets,
 * caption engines).
 *
 * - {@link AudioParticipants.join} puts a connection into the token's session (the connection's
 *   data and role are the token's; clients see it like any other);
 * - {@link AudioParticipant.publishRtp} publishes a stream whose media is RTP the caller already
 *   has (a SIP far end's G.711), {@link AudioParticipant.publishPcm} one made from PCM samples
 *   (encoded to Opus here and paced at 20 ms);
 * - {@link AudioParticipant.listen} hears the session as 20 ms PCM frames at 8, 16 or 24 kHz:
 *   every stream but the participant's own mixed ("N−1"), or only the streams named; streams
 *   that appear later join the mix as they appear.
 *
 * The connection's end for any reason (forceDisconnect, the session's end, {@link
 * AudioParticipant.leave}) calls `onEnd` once and closes the participant's listeners and streams.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { RtConnectionDestroyedReason, RtStream, VerifiedToken } from '@tokhost/protocol';
import type { ClientSocket } from '../realtime/session-log.js';
import type { ServerParticipant, ServerParticipants } from '../realtime/server-participants.js';
import { createEncoder, frameOf, type AudioEncoder, type MixRate } from './audio.js';
import type { Mixer } from './mixer.js';
import { bindLoopback, SessionAudioHub, type ParticipantLogger, type SessionAudio } from './session-audio.js';

export interface AudioParticipantsDeps {
  participants: ServerParticipants;
  logger: ParticipantLogger;
}

export interface JoinOptions {
  /**
   * The connection ended (forceDisconnect, the session's end, `leave()`): called once.
   * `byServer` is true when the realtime layer ended it, false after `leave()`.
   */
  onEnd?(byServer: boolean): void;
  /** Every realtime message the connection gets (as a client would), parsed. */
  onMessage?(msg: Record<string, unknown>): void;
}

/** A stream the caller feeds with RTP packets (their payload type is the one published). */
export interface RtpPublication {
  readonly stream: RtStream;
  /** Hands one RTP packet to the router. */
  send(rtp: Buffer): void;
  /** Packets handed to the router so far. */
  readonly packets: number;
}

/** A stream the caller feeds with PCM samples: encoded to Opus and sent at 20 ms a frame. */
export interface PcmPublication {
  readonly stream: RtStream;
  readonly rate: MixRate;
  /** Queues samples (Int16 values) at {@link rate}; more than `maxQueueMs` waiting drops the oldest. */
  write(samples: Float32Array): void;
  /** Frames sent to the router so far. */
  readonly frames: number;
}

export interface ListenOptions {
  /** Rate of the frames. */
  rate: MixRate;
  /** Only these streams are heard (default: every stream but the participant's own). */
  streams?: readonly string[];
  /** One 20 ms frame (rate / 50 samples, Int16 values); the array is reused after the call. */
  onFrame(frame: Float32Array): void;
}

export interface Listener {
  close(): void;
}

/** Makes server participants; one per server. */
export class AudioParticipants {
  readonly hub: SessionAudioHub;
  private sender: Promise<Socket> | undefined;
  private readonly live = new Set<AudioParticipant>();
  private closed = false;

  readonly logger: ParticipantLogger;

  constructor(private readonly deps: AudioParticipantsDeps) {
    this.logger = deps.logger;
    this.hub = new SessionAudioHub(deps.logger);
  }

  /** Join `token`'s session (verified by the caller). Throws when the session does not exist. */
  join(token: VerifiedToken, options: JoinOptions = {}): AudioParticipant {
    if (this.closed) throw new Error('the server is shutting down');
    const audio = this.hub.acquire(token.sessionId);
    const p = new AudioParticipant(this, audio, options);
    let sp: ServerParticipant;
    try {
      sp = this.deps.participants.join(token, p.socket());
    } catch (err) {
      this.hub.release(audio);
      throw err;
    }
    p.attach(sp);
    this.live.add(p);
    // Streams seen before the room is known are tapped once it is.
    sp.media().then(
      (m) => audio.setRoom(m.room),
      (err: Error) => this.logger.debug({ err: err.message, sessionId: token.sessionId }, 'participant: no router room'),
    );
    return p;
  }

  /** The one UDP socket that sends server participants' RTP to the router. */
  routerSender(): Promise<Socket> {
    this.sender ??= (async () => {
      const s = createSocket('udp4');
      await bindLoopback(s);
      return s;
    })();
    return this.sender;
  }

  forget(p: AudioParticipant): void {
    if (this.live.delete(p)) this.hub.release(p.audio);
  }

  /** Every participant leaves; the shared sockets close. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of [...this.live]) p.leave('clientDisconnected');
    this.hub.close();
    const s = await this.sender?.catch(() => undefined);
    s?.close();
  }
}

export class AudioParticipant {
  private participant: ServerParticipant | undefined;
  private readonly listeners = new Set<{ mixer: Mixer; id: string }>();
  private readonly own = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly encoders = new Set<AudioEncoder>();
  private ended = false;
  private nextListener = 0;

  constructor(
    private readonly owner: AudioParticipants,
    readonly audio: SessionAudio,
    private readonly options: JoinOptions,
  ) {}

  get connectionId(): string {
    return this.participant!.connectionId;
  }

  get sessionId(): string {
    return this.audio.sessionId;
  }

  /** True once the connection has ended. */
  get left(): boolean {
    return this.ended;
  }

  /** @internal */
  attach(p: ServerParticipant): void {
    this.participant = p;
  }

  /** @internal The realtime layer's view of this connection: the messages it gets, and its end. */
  socket(): ClientSocket {
    let open = true;
    return {
      send: (data) => {
        let msg: unknown;
        try {
          msg = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
        } catch {
          return;
        }
        for (const m of Array.isArray(msg) ? (msg as Record<string, unknown>[]) : [msg as Record<string, unknown>]) this.onRealtime(m);
      },
      close: () => {
        if (!open) return;
        open = false;
        this.end(true);
      },
      get isOpen() {
        return open;
      },
    };
  }

  private onRealtime(m: Record<string, unknown>): void {
    switch (m['type']) {
      case 'sessionConnected':
      case 'streamsCreated':
        for (const s of (m['streams'] as RtStream[] | undefined) ?? []) this.audio.streamSeen(s);
        break;
      case 'streamCreated':
        this.audio.streamSeen(m['stream'] as RtStream);
        break;
      case 'streamDestroyed':
        this.audio.streamGone((m['stream'] as RtStream).streamId);
        break;
    }
    try {
      this.options.onMessage?.(m);
    } catch {
      // a throwing handler cannot break the connection
    }
  }

  /** Publish RTP the caller has (`audio` as in `MediaRoom.publishRtp`); the stream is in the session when this resolves. */
  async publishRtp(name: string, audio: { payloadType: number; rtpmap: string; fmtp?: string }): Promise<RtpPublication> {
    let target: { host: string; port: number } | undefined;
    const stream = await this.participant!.publishAudio(name, async (media, streamId) => {
      this.own.add(streamId);
      this.audio.setRoom(media.room);
      target = await media.room.publishRtp({ publisherId: streamId, audio, sourceHost: '127.0.0.1' });
    });
    const sender = await this.owner.routerSender();
    const self = this;
    let packets = 0;
    return {
      stream,
      send(rtp) {
        if (self.ended || !target) return;
        packets++;
        sender.send(rtp, target.port, target.host);
      },
      get packets() {
        return packets;
      },
    };
  }

  /** Publish audio made from PCM at `rate`: Opus in RTP, paced by a 20 ms clock. */
  async publishPcm(name: string, rate: MixRate, options: { maxQueueMs?: number } = {}): Promise<PcmPublication> {
    const rtp = await this.publishRtp(name, { payloadType: 111, rtpmap: 'opus/48000/2', fmtp: 'minptime=10;useinbandfec=1' });
    const encoder = createEncoder('opus', rate);
    this.encoders.add(encoder);
    const n = frameOf(rate);
    const maxFrames = Math.max(1, Math.round((options.maxQueueMs ?? 10_000) / 20));
    const queue: Float32Array[] = [];
    let partial = new Float32Array(0);
    let seq = randomBytes(2).readUInt16BE(0);
    let ts = randomBytes(4).readUInt32BE(0);
    const ssrc = randomBytes(4).readUInt32BE(0);
    let talking = false;
    let frames = 0;
    const header = Buffer.alloc(12);
    const tick = () => {
      const f = queue.shift();
      if (f) {
        const payload = encoder.encode(f);
        header[0] = 0x80;
        header[1] = 111 | (talking ? 0 : 0x80);
        header.writeUInt16BE(seq, 2);
        header.writeUInt32BE(ts >>> 0, 4);
        header.writeUInt32BE(ssrc, 8);
        rtp.send(Buffer.concat([header, payload]));
        seq = (seq + 1) & 0xffff;
        frames++;
        talking = true;
      } else talking = false;
      // The RTP clock runs on through silence (the receiver sees the gap in time, not in sequence).
      ts = (ts + encoder.tsPerFrame) >>> 0;
    };
    this.clock(tick);
    return {
      stream: rtp.stream,
      rate,
      write(samples) {
        let buf = samples;
        if (partial.length > 0) {
          buf = new Float32Array(partial.length + samples.length);
          buf.set(partial, 0);
          buf.set(samples, partial.length);
        }
        let i = 0;
        for (; i + n <= buf.length; i += n) queue.push(buf.slice(i, i + n));
        partial = buf.slice(i);
        if (queue.length > maxFrames) queue.splice(0, queue.length - maxFrames);
      },
      get frames() {
        return frames;
      },
    };
  }

  /** A drift-free 20 ms clock that stops with the participant. */
  private clock(fn: () => void): void {
    const t0 = performance.now();
    let k = 0;
    const step = () => {
      if (this.ended) return;
      k++;
      const late = performance.now() - (t0 + k * 20);
      // Stalled for long: skip what was lost rather than burst it out.
      if (late > 200) k += Math.floor(late / 20);
      try {
        fn();
      } catch (err) {
        this.owner.logger.warn({ err: (err as Error).message }, 'participant clock error');
      }
      this.timers.delete(timer);
      timer = setTimeout(step, Math.max(0, t0 + (k + 1) * 20 - performance.now()));
      this.timers.add(timer);
    };
    let timer = setTimeout(step, 20);
    this.timers.add(timer);
  }

  /** Hear the session (see {@link ListenOptions}). */
  listen(options: ListenOptions): Listener {
    if (this.ended) throw new Error('the participant has left');
    const mixer = this.audio.mixer(options.rate);
    const id = `${this.connectionId}#${this.nextListener++}`;
    // A listener excludes the participant's own stream (it has at most one).
    const exclude = [...this.own][0];
    mixer.addOutput({ id, ...(exclude !== undefined ? { exclude } : {}), ...(options.streams ? { only: new Set(options.streams) } : {}), onFrame: options.onFrame });
    const entry = { mixer, id };
    this.listeners.add(entry);
    return {
      close: () => {
        if (!this.listeners.delete(entry)) return;
        mixer.removeOutput(id);
      },
    };
  }

  /** Turn the participant's own audio on or off (as a client's `streamUpdate`). */
  setAudio(streamId: string, enabled: boolean): void {
    if (!this.ended) this.participant!.setAudio(streamId, enabled);
  }

  /** Leave the session: the connection and its streams end; `onEnd(false)` is called. */
  leave(reason: RtConnectionDestroyedReason = 'clientDisconnected'): void {
    if (this.ended) return;
    if (this.participant && !this.participant.left) this.participant.leave(reason);
    this.end(false);
  }

  private end(byServer: boolean): void {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const l of this.listeners) l.mixer.removeOutput(l.id);
    this.listeners.clear();
    for (const e of this.encoders) e.close();
    this.encoders.clear();
    for (const id of this.own) this.audio.streamGone(id);
    this.owner.forget(this);
    try {
      this.options.onEnd?.(byServer);
    } catch {
      // a throwing handler cannot stop the clean-up
    }
  }
}
