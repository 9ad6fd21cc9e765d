/**
 * A decoder input from the media router: a paused plain-RTP tap of one published stream, its
 * SDP written to a file for ffmpeg, and the tap started only once ffmpeg owns its UDP ports (so
 * ffmpeg sees the sender reports before the first packet, and the keyframe the tap asks for).
 */
import { createSocket } from 'node:dgram';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaRoom, MediaTap } from '../media/types.js';
import type { InputSource } from './decoder.js';

/** True when `port` can be bound on 127.0.0.1 (UDP) right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** An even RTP port whose RTCP neighbour (port+1) is free too, from 20000–49999. */
export async function rtpPortPair(avoid: readonly number[] = []): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + 2 * Math.floor(Math.random() * 15000);
    if (avoid.some((a) => Math.abs(a - p) < 2)) continue;
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free RTP port pair on 127.0.0.1');
}

export interface TapSourceOptions {
  room: MediaRoom;
  streamId: string;
  /** A directory for the SDP file. */
  dir: string;
  audio: boolean;
  video: boolean;
  /**
   * ffmpeg input flags before `-i`. The default suits a live decoder: no probing (the SDP names
   * the codecs; the decoder learns the size from the first keyframe), which brings the first
   * frame about 0.2 s after the tap starts instead of 1–4 s with ffmpeg's probing.
   */
  probeArgs?: readonly string[];
}

/** Opens the tap (paused) and returns the source; `close()` closes the tap and removes the SDP. */
export async function openTapSource(options: TapSourceOptions): Promise<InputSource & { readonly tap: MediaTap; readonly sdpPath: string }> {
  const audioPort = options.audio ? await rtpPortPair() : undefined;
  const videoPort = options.video ? await rtpPortPair(audioPort !== undefined ? [audioPort] : []) : undefined;
  const tap = await options.room.tap(options.streamId, {
    host: '127.0.0.1',
    ...(audioPort !== undefined ? { audioPort } : {}),
    ...(videoPort !== undefined ? { videoPort } : {}),
    paused: true,
  });
  const sdpPath = join(options.dir, `${options.streamId}-${tap.id}.sdp`);
  await writeFile(sdpPath, tap.sdp);
  const ports = [audioPort, videoPort].filter((p): p is number => p !== undefined);
  let closed = false;
  return {
    tap,
    sdpPath,
    inputArgs: [
      ...(options.probeArgs ?? ['-analyzeduration', '0', '-probesize', '32']),
      '-protocol_whitelist', 'file,udp,rtp', '-localaddr', '127.0.0.1', '-i', sdpPath,
    ],
    async ready() {
      // ffmpeg binds the SDP's ports once it has read the file.
      for (let i = 0; ; i++) {
        if (closed) return;
        const free = await Promise.all(ports.map(portFree));
        if (!free.some(Boolean)) break;
        if (i > 200) throw new Error(`ffmpeg did not open RTP ports ${ports.join(', ')} within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await tap.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await tap.close().catch(() => undefined);
      await rm(sdpPath, { force: true });
    },
  };
}
