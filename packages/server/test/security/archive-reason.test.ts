/**
 * Issue 17 item 10: a failed archive's `reason` names no server path (tenants get a generic reason,
 * the log keeps the detail). A recording left by a crash fails when the restarted server finalises
 * it: its MP4 cannot be written (a directory stands in the way), and ffmpeg's error names the path.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServer } from '../../src/create-server.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { LogSink } from '../rest/harness.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
const KEY = '1700018';
const SECRET = 'archive-reason-secret-0123456789abcdef';

describe.skipIf(!hasFfmpeg)('failed archive reasons', () => {
  it('give tenants a reason without local paths and log the detail', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tokhost-reason-'));
    const store = createMemoryStore();
    store.createProject({ apiKey: KEY, apiSecret: SECRET, name: 'p', createdAt: Date.now(), webhookUrl: null });
    const id = '1a2b3c4d-0000-4000-8000-000000000001';
    const createdAt = Date.now() - 60_000;
    const archive = { id, status: 'started', name: '', reason: '', sessionId: 'gone', projectId: Number(KEY), partnerId: Number(KEY), createdAt, updatedAt: createdAt, size: 0, duration: 0, outputMode: 'composed', hasAudio: true, hasVideo: true, sha256sum: '', password: '', resolution: '640x480', streamMode: 'auto', streams: [], url: null };
    store.createArchive({ apiKey: KEY, archive } as never);
    const dir = join(dataDir, 'recordings', id);
    mkdirSync(dir, { recursive: true });
    const part = join(dir, 'part-0.ts');
    const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '1', '-c:v', 'libx264', '-f', 'mpegts', part]);
    expect(made.status).toBe(0);
    mkdirSync(join(dir, `${id}.mp4`), { recursive: true });
    writeFileSync(join(dir, 'recording.json'), JSON.stringify({ archiveId: id, apiKey: KEY, outputMode: 'composed', startedAt: createdAt, parts: [part], files: [] }));
    const logs = new LogSink();
    const server = await createServer({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'info', sip: false }, { store, logStream: logs });
    try {
      const end = Date.now() + 30_000;
      while (store.getArchive(KEY, id)?.archive.status !== 'failed' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      const failed = store.getArchive(KEY, id)!.archive;
      expect(failed.status).toBe('failed');
      expect(failed.reason).toBe('the recording could not be finalised');
      expect(failed.reason).not.toContain(dataDir);
      expect(logs.text).toContain(dataDir);
      console.info(`[archive reason] tenant sees "${failed.reason}"; the log has the detail (${/could not finalise[^"]*/.exec(logs.text)?.[0] ?? 'none'})`);
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});
