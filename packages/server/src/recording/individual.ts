/**
 * An individual-stream archive: each stream of the session (auto mode) or each one added (manual
 * mode) is copied, not transcoded, from its router tap into its own WebM file by an
 * `ffmpeg -c copy` process. WebM is written live (clusters as they come), so a crash keeps what
 * was written. At stop each file gets its cues and the files go into a ZIP with the manifest.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { spawnFfmpeg, StderrTail, stopChild } from '../compose/ffmpeg.js';
import { openTapSource } from '../compose/tap-source.js';
import type { LiveEvent, LiveSessions, LiveStreamInfo } from '../live/index.js';

/** One stream's file as the manifest lists it (offsets in ms from the archive's start). */
export interface IndividualFile {
  streamId: string;
  connectionData: string;
  filename: string;
  videoType: 'camera' | 'screen' | 'custom' | null;
  startTimeOffset: number;
  stopTimeOffset: number | null;
}

export interface IndividualRecorderOptions {
  live: LiveSessions;
  sessionId: string;
  dir: string;
  ffmpegPath: string;
  hasAudio: boolean;
  hasVideo: boolean;
  streamMode: 'auto' | 'manual';
  startedAt: number;
  /** Called whenever the file list changes (persisted for crash recovery). */
  onFiles(files: IndividualFile[]): void;
  logger: { warn(obj: object, msg?: string): void };
}

interface Writer {
  file: IndividualFile;
  child: ChildProcess | null;
  closeTap: () => Promise<void>;
  stopping: Promise<void> | null;
}

export class IndividualRecorder {
  private readonly writers = new Map<string, Writer>();
  readonly files: IndividualFile[] = [];
  private readonly chosen = new Map<string, { hasAudio: boolean; hasVideo: boolean }>();
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(private readonly options: IndividualRecorderOptions) {
    this.unsubscribe = options.live.onLiveEvent((e) => this.onLive(e));
    if (options.streamMode === 'auto') for (const s of options.live.streamInfos(options.sessionId)) void this.record(s, { hasAudio: true, hasVideo: true });
  }

  get streams(): { streamId: string; hasAudio: boolean; hasVideo: boolean }[] {
    return [...this.chosen].map(([streamId, m]) => ({ streamId, ...m }));
  }

  get recording(): number {
    return this.writers.size;
  }

  private onLive(e: LiveEvent): void {
    if (e.sessionId !== this.options.sessionId || this.stopped || !('stream' in e)) return;
    if (e.type === 'streamCreated' && this.options.streamMode === 'auto') void this.record(e.stream, { hasAudio: true, hasVideo: true });
    else if (e.type === 'streamDestroyed') {
      this.chosen.delete(e.stream.streamId);
      void this.end(e.stream.streamId);
    }
  }

  async add(streamId: string, media: { hasAudio: boolean; hasVideo: boolean }): Promise<void> {
    const info = this.options.live.streamInfos(this.options.sessionId).find((s) => s.streamId === streamId);
    if (!info) return;
    // Repeating addStream changes the stream's audio/video: a new file from now on.
    if (this.writers.has(streamId)) await this.end(streamId);
    await this.record(info, media);
  }

  async remove(streamId: string): Promise<void> {
    this.chosen.delete(streamId);
    await this.end(streamId);
  }

  private async record(info: LiveStreamInfo, media: { hasAudio: boolean; hasVideo: boolean }): Promise<void> {
    if (this.writers.has(info.streamId) || this.stopped) return;
    this.chosen.set(info.streamId, { hasAudio: media.hasAudio, hasVideo: media.hasVideo });
    const audio = this.options.hasAudio && media.hasAudio;
    const video = this.options.hasVideo && media.hasVideo;
    const n = this.files.filter((f) => f.streamId === info.streamId).length;
    const file: IndividualFile = {
      streamId: info.streamId,
      connectionData: info.connectionData,
      filename: n === 0 ? `${info.streamId}.webm` : `${info.streamId}-${n}.webm`,
      videoType: info.hasVideo ? (info.videoType ?? 'camera') : null,
      startTimeOffset: Date.now() - this.options.startedAt,
      stopTimeOffset: null,
    };
    const writer: Writer = { file, child: null, closeTap: async () => undefined, stopping: null };
    this.writers.set(info.streamId, writer);
    try {
      const room = this.options.live.mediaRoom(this.options.sessionId);
      if (!room) throw new Error('the session has no media room');
      const source = await openTapSource({ room: await room, streamId: info.streamId, dir: this.options.dir, audio, video, probeArgs: ['-analyzeduration', '2000000'] });
      writer.closeTap = () => source.close();
      if (writer.stopping || this.stopped) {
        await source.close();
        return;
      }
      const maps = [...(video ? ['-map', '0:v:0?'] : []), ...(audio ? ['-map', '0:a:0?'] : [])];
      const child = spawnFfmpeg(this.options.ffmpegPath, [...source.inputArgs, ...maps, '-c', 'copy', '-f', 'webm', '-y', join(this.options.dir, file.filename)], ['ignore', 'ignore', 'pipe']);
      const stderr = new StderrTail(child);
      child.once('exit', (code) => {
        if (!writer.stopping && !this.stopped) this.options.logger.warn({ streamId: info.streamId, code, err: stderr.lastLine() }, 'individual stream writer exited');
      });
      writer.child = child;
      this.files.push(file);
      this.options.onFiles(this.files);
      await source.ready?.();
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message, streamId: info.streamId }, 'could not record the stream');
      this.writers.delete(info.streamId);
    }
  }

  private end(streamId: string): Promise<void> {
    const w = this.writers.get(streamId);
    if (!w) return Promise.resolve();
    w.stopping ??= (async () => {
      w.file.stopTimeOffset = Date.now() - this.options.startedAt;
      this.options.onFiles(this.files);
      // SIGINT while packets may still flow lets ffmpeg finish the file; then the tap goes.
      if (w.child) await stopChild(w.child, 'SIGINT', 3000);
      await w.closeTap();
      this.writers.delete(streamId);
    })();
    return w.stopping;
  }

  async stop(): Promise<IndividualFile[]> {
    this.stopped = true;
    this.unsubscribe();
    await Promise.all([...this.writers.keys()].map((id) => this.end(id)));
    return this.files;
  }
}
