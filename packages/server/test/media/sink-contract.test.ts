/**
 * Every output of a composition runs the one sink contract (sink.contract.ts): the archive file
 * (never drops, holds the producer), HLS and RTMP (drop to the next keyframe).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveFileSink } from '../../src/compose/outputs/archive-file.js';
import { HlsSink } from '../../src/compose/outputs/hls.js';
import { RtmpSink } from '../../src/compose/outputs/rtmp.js';
import { finalizeComposed } from '../../src/recording/media-files.js';
import { ffmpegRtmpListener, type Recording } from './fixtures/rtmp-servers.js';
import { silentLogger, sinkContract } from './sink.contract.js';

/** A complete fragmented MP4 ends with its `mfra` index, whose last box is the 16-byte `mfro`. */
const endsWithMfra = (file: string): boolean => readFileSync(file).subarray(-12, -8).toString('latin1') === 'mfro';

sinkContract<ArchiveFileSink>('ArchiveFileSink', {
  make: (dir, o) => new ArchiveFileSink({ dir, hasVideo: true, hasAudio: true, logger: silentLogger, ...o }),
  // What the archiver stores: the parts joined into one fast-start MP4.
  async output(sink, dir) {
    const out = join(dir, 'archive.mp4');
    await finalizeComposed({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' }, sink.parts, out);
    return out;
  },
  finalised: async (sink) => sink.parts.length > 0 && sink.parts.every(endsWithMfra),
  whenBehind: 'wait',
  behind: (sink) => ({ pid: sink.pid, droppedJoins: 0, holds: sink.holds, peakQueuedBytes: sink.peakQueuedBytes }),
});

sinkContract<HlsSink>('HlsSink', {
  make: (dir, o) => new HlsSink({ dir: join(dir, 'hls'), logger: silentLogger, ...o }),
  output: async (sink) => join(sink.dir, 'index.m3u8'),
  finalised: async (sink) => sink.ended,
  whenBehind: 'drop',
  behind: (sink) => ({ pid: sink.pid, droppedJoins: sink.droppedJoins, holds: sink.holds, peakQueuedBytes: sink.peakQueuedBytes }),
});

const receivers = new Map<RtmpSink, Recording & { file: string }>();
sinkContract<RtmpSink>('RtmpSink', {
  async make(dir) {
    const file = join(dir, 'received.flv');
    const receiver = await ffmpegRtmpListener(file, 60);
    const sink = new RtmpSink({ serverUrl: receiver.serverUrl, streamName: receiver.streamName, logger: silentLogger });
    receivers.set(sink, { ...receiver, file });
    return sink;
  },
  // What the server received: the receiver ends its file when the publisher leaves.
  async output(sink) {
    const receiver = receivers.get(sink)!;
    await receiver.done;
    return receiver.file;
  },
  finalised: async (sink) => (await receivers.get(sink)!.done) === 0,
  whenBehind: 'drop',
  behind: () => ({ pid: undefined, droppedJoins: 0, holds: 0, peakQueuedBytes: 0 }),
  skip: {
    slowReader: 'its ffmpeg is a RemuxSink per connection attempt, not reachable from outside; a slow server goes the same RemuxSink drop path as the HLS case, which runs it',
  },
  async cleanup() {
    await Promise.all([...receivers.values()].map((r) => r.stop()));
    receivers.clear();
  },
});
