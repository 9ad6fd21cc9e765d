/**
 * Archives: the recordings behind the archive REST routes. A composed archive leases a
 * composition (compose/) and copies its output into a crash-safe fragmented MP4; an individual
 * one copies each stream into its own WebM. Lifecycle (OpenTok's): `started` ⇄ `paused` (nobody
 * publishing) → `stopped` (user, maximum duration, 60 s after the last client left) → `available`
 * with a signed, expiring `url`, or `failed` with a reason. Every status change goes to the
 * project's webhook (`event: "archive"`) and to the session's clients (`archiveStarted` /
 * `archiveStopped`). After a crash, {@link Archiver.recover} finalises what was written.
 *
 * Work files live in `<recordingsDir>/<archiveId>/` with a `recording.json` that names the parts
 * (composed) or files (individual) written so far: that is all recovery needs.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveJson, Resolution } from '@tokhost/protocol';
import type { Compositions, CompositionLease } from '../compose/compositions.js';
import { ArchiveFileSink } from '../compose/outputs/archive-file.js';
import { LeaseOutputs } from '../compose/outputs/sink.js';
import type { LayoutSpec } from '../compose/layout/index.js';
import type { LiveEvent, LiveSessions } from '../live/index.js';
import type { SessionRecord, Store } from '../storage/store.js';
import { ACTIVE_ARCHIVE_STATUSES } from '../storage/store.js';
import { IndividualRecorder } from './individual.js';
import type { IndividualFile } from './individual.js';
import { finalizeComposed, finalizeWebm, NO_READABLE_MEDIA, probeDuration, sha256File, writeZip } from './media-files.js';
import type { ToolPaths } from './media-files.js';
import type { ArchiveStorage } from './storage.js';
import { TokhostError, type RecordingErrorCode } from '../errors.js';

/** Start options as the REST layer validated them. */
export interface ArchiveStartOptions {
  name?: string | undefined;
  hasAudio: boolean;
  hasVideo: boolean;
  outputMode: 'composed' | 'individual';
  resolution?: Resolution | undefined;
  layout?: LayoutSpec | undefined;
  streamMode: 'auto' | 'manual';
  multiArchiveTag?: string | undefined;
  maxBitrate?: number | undefined;
  quantizationParameter?: number | undefined;
}

export interface ArchiverOptions {
  store: Store;
  live: LiveSessions;
  compositions: Compositions;
  storage: ArchiveStorage;
  /** Where recordings in progress are written. */
  recordingsDir: string;
  tools: ToolPaths;
  maxDurationSeconds: number;
  idleStopSeconds: number;
  /** Deliver an archive callback to the project's webhook (durably, in order). */
  callback(apiKey: string, archive: ArchiveJson): void;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
}

interface RecordingManifest {
  archiveId: string;
  apiKey: string;
  outputMode: 'composed' | 'individual';
  startedAt: number;
  parts: string[];
  files: IndividualFile[];
}

interface Active {
  apiKey: string;
  archive: ArchiveJson;
  dir: string;
  manifest: RecordingManifest;
  lease: CompositionLease | null;
  /** The lease's sinks: the archive file (composed archives). */
  outputs: LeaseOutputs | null;
  file: ArchiveFileSink | null;
  individual: IndividualRecorder | null;
  maxTimer: NodeJS.Timeout;
  idleTimer: NodeJS.Timeout | null;
  stopping: Promise<ArchiveJson> | null;
}

/** A change asked of an archive that is not in a state to take it. */
export class ArchiveStateError extends TokhostError<RecordingErrorCode> {
  override readonly name = 'ArchiveStateError';
}

const canvasOf = (r: Resolution) => {
  const [w, h] = r.split('x').map(Number);
  return { width: w!, height: h! };
};

const NOTHING_RECORDED = 'nothing was recorded (no stream was published)';
/** Failure messages written for tenants (no paths, no tool output): shown as they are; any other is replaced by a generic reason. */
const TENANT_SAFE = new Set([NOTHING_RECORDED, NO_READABLE_MEDIA, 'the session has no media room']);

export class Archiver {
  private readonly active = new Map<string, Active>();
  private readonly unsubscribe: () => void;
  private readonly finishing = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: ArchiverOptions) {
    this.unsubscribe = options.live.onLiveEvent((e) => this.onLive(e));
  }

  /** IDs of the archives recording on this server (cluster mode announces them in Redis). */
  recordingIds(): string[] {
    return [...this.active.keys()];
  }

  /** Sessions with an archive recording on this server (cluster mode keeps their leases). */
  recordingSessions(): string[] {
    return [...new Set([...this.active.values()].map((a) => a.archive.sessionId))];
  }

  /** Archives recording right now in a session. */
  recordingIn(sessionId: string): ArchiveJson[] {
    return [...this.active.values()].filter((a) => a.archive.sessionId === sessionId).map((a) => a.archive);
  }

  /** Start recording (the route has checked the session, the media mode and the running archives). */
  async start(apiKey: string, session: SessionRecord, opts: ArchiveStartOptions): Promise<ArchiveJson> {
    const id = randomUUID();
    const now = Date.now();
    const composed = opts.outputMode === 'composed';
    const resolution = opts.resolution ?? '640x480';
    const archive: ArchiveJson = {
      id,
      status: 'started',
      name: opts.name ?? null,
      reason: '',
      sessionId: session.sessionId,
      projectId: Number(apiKey),
      partnerId: Number(apiKey),
      createdAt: now,
      updatedAt: now,
      size: 0,
      duration: 0,
      outputMode: opts.outputMode,
      hasAudio: opts.hasAudio,
      hasVideo: opts.hasVideo,
      ...(composed ? { resolution } : {}),
      streamMode: opts.streamMode,
      ...(opts.streamMode === 'manual' ? { streams: [] } : {}),
      url: null,
      sha256sum: '',
      password: '',
      ...(opts.maxBitrate !== undefined ? { maxBitrate: opts.maxBitrate } : {}),
      ...(opts.quantizationParameter !== undefined ? { quantizationParameter: opts.quantizationParameter } : {}),
      ...(opts.multiArchiveTag !== undefined ? { multiArchiveTag: opts.multiArchiveTag } : {}),
    };
    const dir = join(this.options.recordingsDir, id);
    await mkdir(dir, { recursive: true });
    const manifest: RecordingManifest = { archiveId: id, apiKey, outputMode: opts.outputMode, startedAt: now, parts: [], files: [] };
    await this.saveManifest(dir, manifest);
    this.options.store.createArchive({ apiKey, archive });
    const a: Active = {
      apiKey,
      archive,
      dir,
      manifest,
      lease: null,
      outputs: null,
      file: null,
      individual: null,
      maxTimer: setTimeout(() => void this.stop(apiKey, id, 'maximum duration exceeded').catch(() => undefined), this.options.maxDurationSeconds * 1000),
      idleTimer: null,
      stopping: null,
    };
    a.maxTimer.unref?.();
    this.active.set(id, a);
    try {
      if (composed) {
        const lease = await this.options.compositions.acquire({
          apiKey,
          sessionId: session.sessionId,
          canvas: canvasOf(resolution),
          layout: opts.layout ?? { type: 'bestFit' },
          streamMode: opts.streamMode,
          hasAudio: opts.hasAudio,
          hasVideo: opts.hasVideo,
          ...(opts.maxBitrate !== undefined ? { maxBitrate: opts.maxBitrate } : {}),
          ...(opts.quantizationParameter !== undefined ? { quantizationParameter: opts.quantizationParameter } : {}),
        });
        a.lease = lease;
        lease.on('paused', () => this.setStatus(a, 'paused'));
        lease.on('resumed', () => this.setStatus(a, 'started'));
        lease.on('failed', (reason) => void this.fail(a, 'the encoder failed', reason));
        a.outputs = new LeaseOutputs(lease);
        a.file = new ArchiveFileSink({
          dir,
          ffmpegPath: this.options.tools.ffmpeg,
          hasVideo: opts.hasVideo,
          hasAudio: opts.hasAudio,
          logger: this.options.logger,
          onPart: (p) => {
            manifest.parts.push(p);
            void this.saveManifest(dir, manifest);
          },
        });
        a.file.on('failed', (reason) => void this.fail(a, 'the archive writer failed', reason));
        a.outputs.add(a.file);
      } else {
        a.individual = new IndividualRecorder({
          live: this.options.live,
          sessionId: session.sessionId,
          dir,
          ffmpegPath: this.options.tools.ffmpeg,
          hasAudio: opts.hasAudio,
          hasVideo: opts.hasVideo,
          streamMode: opts.streamMode,
          startedAt: now,
          onFiles: (files) => {
            manifest.files = files;
            void this.saveManifest(dir, manifest);
          },
          logger: this.options.logger,
        });
      }
    } catch (err) {
      await this.fail(a, `could not start recording${TENANT_SAFE.has((err as Error).message) ? `: ${(err as Error).message}` : ''}`, (err as Error).message);
      throw err;
    }
    this.options.live.archiveNotice(session.sessionId, { id, name: archive.name ?? '' }, true);
    this.options.callback(apiKey, { ...a.archive, event: 'archive' });
    // The start answer is always `started` (opentok-node refuses any other status); an archive
    // with nothing to record yet goes `paused` right after it (the composition adds its live
    // streams on the next turn, see Compositions.acquire).
    setTimeout(() => {
      if (a.stopping) return;
      if (a.lease) this.setStatus(a, a.lease.paused ? 'paused' : 'started');
      else this.setStatus(a, (a.individual?.recording ?? 0) > 0 ? 'started' : 'paused');
    }, 100);
    this.options.logger.info({ archiveId: id, sessionId: session.sessionId, outputMode: opts.outputMode }, 'archive started');
    return a.archive;
  }

  private get(apiKey: string, archiveId: string): Active {
    const a = this.active.get(archiveId);
    if (!a || a.apiKey !== apiKey || a.stopping) throw new ArchiveStateError('ERR_RECORDING_NOT_ACTIVE', `Archive ${archiveId} is not recording`);
    return a;
  }

  /** Stop; answers with the `stopped` archive, finalises in the background. */
  async stop(apiKey: string, archiveId: string, reason = 'user initiated'): Promise<ArchiveJson> {
    const a = this.active.get(archiveId);
    if (!a || a.apiKey !== apiKey) throw new ArchiveStateError('ERR_RECORDING_NOT_ACTIVE', `Archive ${archiveId} is not recording`);
    if (a.stopping) return a.stopping;
    a.stopping = (async () => {
      clearTimeout(a.maxTimer);
      if (a.idleTimer) clearTimeout(a.idleTimer);
      const duration = Math.round(a.lease?.outputSeconds ?? (Date.now() - a.manifest.startedAt) / 1000);
      const { streams: _streams, ...rest } = a.archive;
      this.update(a, { ...rest, status: 'stopped', reason, duration });
      this.options.live.archiveNotice(a.archive.sessionId, { id: a.archive.id, name: a.archive.name ?? '' }, false);
      const done = this.finish(a).catch((err: Error) => this.options.logger.error({ err: err.message, archiveId }, 'archive finalisation failed'));
      this.finishing.add(done);
      void done.finally(() => this.finishing.delete(done));
      return a.archive;
    })();
    return a.stopping;
  }

  /** Ends the recorders and produces the stored file. */
  private async finish(a: Active): Promise<void> {
    let parts: string[] = [];
    let files: IndividualFile[] = [];
    if (a.lease) {
      await a.lease.release();
      await a.outputs?.close();
      parts = a.file?.parts ?? [];
    }
    if (a.individual) files = await a.individual.stop();
    this.active.delete(a.archive.id);
    await this.produce(a.apiKey, a.archive, a.dir, { ...a.manifest, parts, files });
  }

  /** Finalise a recording directory into storage and mark the archive available (or failed). */
  private async produce(apiKey: string, archive: ArchiveJson, dir: string, manifest: RecordingManifest): Promise<void> {
    const tools = this.options.tools;
    const current = () => this.options.store.getArchive(apiKey, archive.id)?.archive ?? archive;
    try {
      const ext = manifest.outputMode === 'composed' ? 'mp4' : 'zip';
      const out = join(dir, `${archive.id}.${ext}`);
      let duration: number;
      if (manifest.outputMode === 'composed') {
        await finalizeComposed(tools, manifest.parts, out);
        duration = (await probeDuration(tools, out)) ?? 0;
      } else {
        const kept: string[] = [];
        const entries = [];
        let end = 0;
        for (const f of manifest.files) {
          const fixed = join(dir, `final-${f.filename}`);
          if (!(await finalizeWebm(tools, join(dir, f.filename), fixed))) continue;
          const target = join(dir, 'zip', f.filename);
          await mkdir(join(dir, 'zip'), { recursive: true });
          await rename(fixed, target);
          kept.push(target);
          const size = (await readFile(target)).length;
          const length = (await probeDuration(tools, target)) ?? 0;
          const stop = f.stopTimeOffset ?? f.startTimeOffset + Math.round(length * 1000);
          end = Math.max(end, stop);
          entries.push({ streamId: f.streamId, connectionData: f.connectionData, filename: f.filename, size, startTimeOffset: f.startTimeOffset, stopTimeOffset: stop, videoType: f.videoType });
        }
        if (kept.length === 0) throw new Error(NOTHING_RECORDED);
        const doc = { id: archive.id, name: archive.name ?? '', sessionId: archive.sessionId, createdAt: archive.createdAt, files: entries };
        await writeZip(out, kept, `${archive.id}.json`, doc);
        duration = end / 1000;
      }
      const sha256sum = await sha256File(out);
      const { size } = await this.options.storage.put(`${apiKey}/${archive.id}.${ext}`, out);
      const available: ArchiveJson = { ...current(), status: 'available', size, sha256sum, duration: Math.round(duration), updatedAt: Date.now() };
      this.options.store.updateArchive(apiKey, available);
      this.options.callback(apiKey, { ...available, event: 'archive' });
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      this.options.logger.info({ archiveId: archive.id, size, duration }, 'archive available');
    } catch (err) {
      // Tenants get a reason without local paths (file system and ffmpeg errors name them); the log has the detail.
      const detail = (err as Error).message;
      const failed: ArchiveJson = { ...current(), status: 'failed', reason: TENANT_SAFE.has(detail) ? detail : 'the recording could not be finalised', updatedAt: Date.now() };
      this.options.store.updateArchive(apiKey, failed);
      this.options.callback(apiKey, { ...failed, event: 'archive' });
      this.options.logger.warn({ archiveId: archive.id, err: (err as Error).message }, 'archive failed');
    }
  }

  /** `reason` goes to the tenant (no local paths); `detail` only to the log. */
  private async fail(a: Active, reason: string, detail: string): Promise<void> {
    if (a.stopping) return;
    this.options.logger.warn({ archiveId: a.archive.id, reason, detail }, 'archive failed while recording');
    a.stopping = (async () => {
      clearTimeout(a.maxTimer);
      if (a.idleTimer) clearTimeout(a.idleTimer);
      this.active.delete(a.archive.id);
      await a.lease?.release().catch(() => undefined);
      await a.outputs?.close().catch(() => undefined);
      await a.individual?.stop().catch(() => undefined);
      this.options.live.archiveNotice(a.archive.sessionId, { id: a.archive.id, name: a.archive.name ?? '' }, false);
      this.update(a, { ...a.archive, status: 'failed', reason });
      return a.archive;
    })();
    await a.stopping;
  }

  async addStream(apiKey: string, archiveId: string, streamId: string, media: { hasAudio: boolean; hasVideo: boolean }): Promise<void> {
    const a = this.get(apiKey, archiveId);
    if (a.archive.streamMode !== 'manual') throw new ArchiveStateError('ERR_RECORDING_STREAM_MODE', 'The archive was started with streamMode auto');
    if (a.lease) await a.lease.addStream(streamId, media);
    else await a.individual!.add(streamId, media);
    this.refreshStreams(a);
  }

  async removeStream(apiKey: string, archiveId: string, streamId: string): Promise<void> {
    const a = this.get(apiKey, archiveId);
    if (a.archive.streamMode !== 'manual') throw new ArchiveStateError('ERR_RECORDING_STREAM_MODE', 'The archive was started with streamMode auto');
    if (a.lease) await a.lease.removeStream(streamId);
    else await a.individual!.remove(streamId);
    this.refreshStreams(a);
  }

  async setLayout(apiKey: string, archiveId: string, layout: LayoutSpec): Promise<void> {
    const a = this.get(apiKey, archiveId);
    if (!a.lease) throw new ArchiveStateError('ERR_RECORDING_NOT_COMPOSED', 'Layouts apply to composed archives only');
    await a.lease.setLayout(layout);
  }

  private refreshStreams(a: Active): void {
    const streams = a.lease?.streams ?? a.individual?.streams ?? [];
    const live = new Set(this.options.live.streamInfos(a.archive.sessionId).map((s) => s.streamId));
    this.update(a, { ...a.archive, streams: streams.filter((s) => live.has(s.streamId)) }, false);
    const recording = a.lease ? !a.lease.paused || streams.length > 0 : (a.individual?.recording ?? 0) > 0 || streams.length > 0;
    this.setStatus(a, recording ? 'started' : 'paused');
  }

  private setStatus(a: Active, status: 'started' | 'paused', notify = true): void {
    if (a.stopping || a.archive.status === status) return;
    this.update(a, { ...a.archive, status }, notify);
  }

  private update(a: Active, archive: ArchiveJson, notify = true): void {
    a.archive = { ...archive, updatedAt: Date.now() };
    this.options.store.updateArchive(a.apiKey, a.archive);
    if (notify) this.options.callback(a.apiKey, { ...a.archive, event: 'archive' });
  }

  private onLive(e: LiveEvent): void {
    if (this.closed) return;
    for (const a of this.active.values()) {
      if (a.archive.sessionId !== e.sessionId || a.stopping) continue;
      if (e.type === 'connectionDestroyed' && e.connections === 0 && !a.idleTimer) {
        a.idleTimer = setTimeout(() => void this.stop(a.apiKey, a.archive.id, 'session ended').catch(() => undefined), this.options.idleStopSeconds * 1000);
        a.idleTimer.unref?.();
      } else if (e.type === 'connectionCreated' && a.idleTimer) {
        clearTimeout(a.idleTimer);
        a.idleTimer = null;
      } else if (a.individual && (e.type === 'streamCreated' || e.type === 'streamDestroyed')) {
        // Individual archives pause while none of their streams publishes.
        setTimeout(() => {
          if (a.archive.streamMode === 'manual') this.refreshStreams(a);
          else this.setStatus(a, this.options.live.streamInfos(a.archive.sessionId).length > 0 ? 'started' : 'paused');
        }, 0);
      } else if (a.archive.streamMode === 'manual' && e.type === 'streamDestroyed') {
        setTimeout(() => this.refreshStreams(a), 0);
      }
    }
    if (e.type === 'connectionCreated' && e.connections === 1) this.autoStart(e.apiKey, e.sessionId);
  }

  /** `archiveMode: always`: the first client's arrival starts a composed archive. */
  private autoStart(apiKey: string, sessionId: string): void {
    const session = this.options.store.getSession(sessionId);
    if (!session || session.archiveMode !== 'always' || session.mediaMode !== 'routed' || session.e2ee) return;
    if ([...this.active.values()].some((a) => a.archive.sessionId === sessionId && !a.stopping)) return;
    void this.start(apiKey, session, {
      ...(session.archiveName ? { name: session.archiveName } : {}),
      hasAudio: true,
      hasVideo: true,
      outputMode: 'composed',
      ...(session.archiveResolution ? { resolution: session.archiveResolution } : {}),
      streamMode: 'auto',
    }).catch((err: Error) => this.options.logger.warn({ err: err.message, sessionId }, 'automatic archive failed to start'));
  }

  /** Delete a stored archive's file (the route removes the record). */
  async deleteFile(apiKey: string, archive: ArchiveJson): Promise<void> {
    await this.options.storage.delete(`${apiKey}/${archive.id}.${archive.outputMode === 'composed' ? 'mp4' : 'zip'}`);
  }

  /**
   * After a crash: every archive still `started`/`paused` in the store is finalised from what its
   * recording directory holds (`available`), or marked `failed` with the reason. `skip` (cluster
   * mode) leaves out archives that are still recording elsewhere (their session's owner is alive)
   * or that another node is already finalising.
   */
  async recover(skip?: (archive: ArchiveJson) => boolean | Promise<boolean>): Promise<{ recovered: number; failed: number }> {
    let recovered = 0;
    let failed = 0;
    const dirs = new Set(await readdir(this.options.recordingsDir).catch(() => [] as string[]));
    for (const { apiKey, archive } of this.options.store.listArchivesByStatus(ACTIVE_ARCHIVE_STATUSES)) {
      if (this.active.has(archive.id)) continue;
      if (skip && (await skip(archive))) continue;
      const dir = join(this.options.recordingsDir, archive.id);
      let manifest: RecordingManifest | null = null;
      if (dirs.has(archive.id)) manifest = (JSON.parse(await readFile(join(dir, 'recording.json'), 'utf8').catch(() => 'null')) as RecordingManifest | null) ?? null;
      const stopped: ArchiveJson = { ...archive, status: 'stopped', reason: 'server restarted while recording', updatedAt: Date.now() };
      this.options.store.updateArchive(apiKey, stopped);
      if (!manifest) {
        const f: ArchiveJson = { ...stopped, status: 'failed', reason: 'the recording was lost: no recording directory after a restart' };
        this.options.store.updateArchive(apiKey, f);
        this.options.callback(apiKey, { ...f, event: 'archive' });
        failed++;
        continue;
      }
      this.options.callback(apiKey, { ...stopped, event: 'archive' });
      await this.produce(apiKey, stopped, dir, manifest);
      const after = this.options.store.getArchive(apiKey, archive.id)?.archive;
      if (after?.status === 'available') recovered++;
      else failed++;
    }
    return { recovered, failed };
  }

  private async saveManifest(dir: string, m: RecordingManifest): Promise<void> {
    const tmp = join(dir, `recording.json.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(m)).catch(() => undefined);
    await rename(tmp, join(dir, 'recording.json')).catch(() => undefined);
  }

  /** Server shutdown: stop every recording and wait for the files. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await Promise.allSettled([...this.active.values()].map((a) => this.stop(a.apiKey, a.archive.id, 'server shutting down')));
    await Promise.allSettled([...this.finishing]);
  }
}

/** `url` of an available archive: a link signed with the project secret, valid `ttlSeconds`. */
export function signArchiveUrl(baseUrl: string, apiKey: string, secret: string, archive: ArchiveJson, ttlSeconds: number, now = Date.now()): string {
  const ext = archive.outputMode === 'composed' ? 'mp4' : 'zip';
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const path = `/archive-files/${apiKey}/${archive.id}.${ext}`;
  const sig = createHmac('sha256', secret).update(`${path}:${expires}`).digest('hex');
  return `${baseUrl.replace(/\/$/, '')}${path}?expires=${expires}&signature=${sig}`;
}

/** Checks a download link's signature and expiry. */
export function verifyArchiveUrl(path: string, expires: string | null, signature: string | null, secret: string, now = Date.now()): boolean {
  if (!expires || !signature || !/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(signature)) return false;
  if (Number(expires) * 1000 < now) return false;
  const want = createHmac('sha256', secret).update(`${path}:${expires}`).digest();
  return timingSafeEqual(want, Buffer.from(signature, 'hex'));
}
