/**
 * Issue 9, acceptance 3: SIGKILL of the whole server process group (server, media workers,
 * decoders, encoder, file writer) while an archive records, then a restart on the same data
 * directory: the archive ends `available` with the part written before the kill (playable,
 * duration within 2 s of what was recorded), never stuck in `started`.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenTokTs from '@tokhost/sdk';
import { BIN, ensureBuilt, ROOT } from '../cli/spawn.js';
import { colourName, ffprobe, frameAt, maxVideoGap, meanColour } from '../recording/media-check.js';
import { fakeCamera, hasChromium, hasCommands, launchChromium, openApp, SDK_BUILT, sleep, startAppOrigin, until } from '../kit/index.js';
import type { AppOrigin } from '../kit/index.js';

const hasTools = hasChromium && SDK_BUILT && hasCommands('ffmpeg', 'ffprobe');

/** `tokhost serve` in a process group of its own (so the kill reaches every child). */
function serveGroup(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tokhost serve did not start: ${out}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
  });
}

function killGroup(child: ChildProcess | undefined): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

describe.skipIf(!hasTools)('archives survive a crash of the whole server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokhost-archive-crash-'));
  const apiKey = '6' + String(Date.now()).slice(-7);
  const apiSecret = randomBytes(20).toString('hex');
  let first: ChildProcess | undefined;
  let second: ChildProcess | undefined;
  let browser: Browser;
  let appOrigin: AppOrigin;

  beforeAll(async () => {
    ensureBuilt();
    browser = await launchChromium(fakeCamera(dir, 'red'));
    appOrigin = await startAppOrigin();
  }, 60_000);
  afterAll(async () => {
    killGroup(first);
    killGroup(second);
    await browser?.close();
    await appOrigin?.close();
    if (!process.env['KEEP_ARCHIVE_FILES']) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('acceptance 3: SIGKILL of the process group mid-recording, restart: available with what was written', async () => {
    const args = ['--port', '0', '--outbound-allow', '127.0.0.0/8', '--data-dir', join(dir, 'data'), '--api-key', apiKey, '--api-secret', apiSecret, '--media-workers', '1', '--log-level', 'warn'];
    const a = await serveGroup(args);
    first = a.child;
    const sdk = new OpenTokTs(apiKey, apiSecret, { apiUrl: a.url });
    const { sessionId } = await sdk.createSession({ mediaMode: 'routed' });
    const page = await openApp(browser, appOrigin.url(a.url));
    await page.evaluate((o) => window.app.start(o), { apiKey, sessionId, token: sdk.generateToken(sessionId), name: 'red', subscribe: false, resolution: '640x480' });
    await sleep(1500);
    const archive = await sdk.startArchive(sessionId, { name: 'crash' });
    const t0 = Date.now();
    await sleep(8000);
    killGroup(first);
    const recorded = (Date.now() - t0) / 1000;
    await page.close();
    // Nothing of the first server may survive the kill (it would keep files open).
    await sleep(500);
    // (Zombies, state Z, are dead: only the reaping by init is left.)
    const survivors = spawnSync('sh', ['-c', `ps -o pid=,stat=,comm= -s ${first.pid} || true`], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() && !/\sZ/.test(l));
    expect(survivors).toEqual([]);

    const b = await serveGroup(args);
    second = b.child;
    const sdk2 = new OpenTokTs(apiKey, apiSecret, { apiUrl: b.url });
    const done = await until(async () => { const x = await sdk2.getArchive(archive.id); return (x.status === 'available' || x.status === 'failed') && x; }, { timeoutMs: 60_000, what: 'recovered archive' });
    expect(done.status, done.reason).toBe('available');
    expect(done.reason).toBe('server restarted while recording');
    const res = await fetch(done.url!);
    expect(res.status).toBe(200);
    const file = join(dir, 'crash.mp4');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const probe = ffprobe(file);
    console.info(`[archive crash] recorded ${recorded.toFixed(1)} s before SIGKILL; recovered file ${probe.duration.toFixed(2)} s (archive.duration ${done.duration}), ${done.size} bytes, max video gap ${(maxVideoGap(file) * 1000).toFixed(0)} ms`);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(probe.duration - recorded)).toBeLessThan(2);
    expect(colourName(meanColour(frameAt(file, probe.duration - 1.5, 640, 480), 640, { x: 200, y: 150, w: 240, h: 180 }))).toBe('red');
    killGroup(second);
  }, 150_000);
});
