/**
 * Entry of a media worker process (`child_process.fork`). Owns one `NdcEngine`; talks to the
 * router over the IPC channel. RTP stays in this process: encryption and `sendto` run on this
 * process's main thread, so media load cannot stall the control plane.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import nodeDataChannel from 'node-datachannel';
import { EngineError, NdcEngine } from './engine.js';
import type { WorkerEvent, WorkerRequestMessage, WorkerResponse } from './ipc.js';

const STATS_INTERVAL_MS = 1000;

let engine: NdcEngine | undefined;
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();

function send(msg: WorkerEvent | WorkerResponse): void {
  if (process.connected) process.send!(msg);
}

let lastStatsAt = performance.now();
const statsTimer = setInterval(() => {
  if (!engine) return;
  // Rates over the real elapsed time: under load the timer fires late.
  const now = performance.now();
  const elapsed = now - lastStatsAt;
  const s = engine.stats(elapsed);
  const cpu = process.cpuUsage();
  send({
    ev: 'stats',
    worker: {
      ...s.worker,
      // No sample at all means the loop was blocked for the whole interval.
      eventLoopP99Ms: loop.count === 0 ? Math.max(0, now - lastStatsAt) : loop.percentile(99) / 1e6,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssBytes: process.memoryUsage.rss(),
    },
    sessions: s.sessions,
  });
  lastStatsAt = now;
  loop.reset();
}, STATS_INTERVAL_MS);

async function handle(m: WorkerRequestMessage): Promise<unknown> {
  if (m.op === 'init') {
    engine = new NdcEngine(m.config, (e) => send(e));
    return { pid: process.pid };
  }
  if (!engine) throw new EngineError('ERR_MEDIA_CLOSED', 'worker not initialised');
  switch (m.op) {
    case 'publish':
      return engine.publish(m.sessionId, m.publisherId, m.offerSdp, m.audioFallback === true);
    case 'publishRtp':
      return engine.publishRtp(m.sessionId, m.publisherId, m.codec, m.host);
    case 'pubCandidate':
      return engine.pubCandidate(m.sessionId, m.publisherId, m.candidate);
    case 'subscribe':
      return engine.subscribe(m.sessionId, m.subscriberId, m.publisherId, m.audio, m.video);
    case 'subAnswer':
      return engine.subAnswer(m.sessionId, m.subscriberId, m.answerSdp);
    case 'subCandidate':
      return engine.subCandidate(m.sessionId, m.subscriberId, m.candidate);
    case 'subMedia':
      return engine.subMedia(m.sessionId, m.subscriberId, m.audio, m.video);
    case 'pubLoss':
      return engine.pubLoss(m.sessionId, m.publisherId, m.fraction);
    case 'subLoss':
      return engine.subLoss(m.sessionId, m.subscriberId, m.fraction);
    case 'pubMute':
      return engine.pubMute(m.sessionId, m.publisherId, m.muted);
    case 'tap':
      return engine.tap(m.sessionId, m.publisherId, m.tapId, m.host, m.audioPort, m.videoPort, m.paused);
    case 'tapStart':
      return engine.tapStart(m.sessionId, m.tapId);
    case 'untap':
      return engine.untap(m.sessionId, m.tapId);
    case 'unpublish':
      return engine.unpublish(m.sessionId, m.publisherId);
    case 'unsubscribe':
      return engine.unsubscribe(m.sessionId, m.subscriberId);
    case 'closeRoom':
      return engine.closeRoom(m.sessionId);
    case 'shutdown':
      shutdown();
      return undefined;
  }
}

function shutdown(): void {
  clearInterval(statsTimer);
  engine?.shutdown();
  engine = undefined;
  // Give libdatachannel a moment to send DTLS close alerts before its threads are joined.
  setTimeout(() => {
    nodeDataChannel.cleanup();
    process.disconnect?.();
    process.exit(0);
  }, 100);
}

process.on('message', (m: WorkerRequestMessage) => {
  handle(m).then(
    (result) => send({ id: m.id, ok: true, result }),
    (e: unknown) => {
      const err = e as Error & { code?: string };
      send({ id: m.id, ok: false, error: { code: err instanceof EngineError ? err.code : 'ERR_MEDIA_ENGINE', message: err.message } });
    },
  );
});

// The router died or closed the channel: do not linger as an orphan holding UDP ports.
process.on('disconnect', () => {
  engine?.shutdown();
  process.exit(0);
});
// The parent may have died while this module was still loading node-datachannel: the channel is
// then already closed and 'disconnect' will never fire (seen as an orphan after a killed test run).
if (!process.connected) {
  engine?.shutdown();
  process.exit(0);
}
