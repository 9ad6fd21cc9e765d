import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CdpPipe } from './cdp.js';

/** Options of {@link launchBrowser}. */
export interface BrowserOptions {
  /** The Chromium executable (Debian's `/usr/bin/chromium`). */
  executable: string;
  /** Viewport, CSS pixels. */
  width: number;
  height: number;
  /**
   * The user the browser runs as when the server runs as root (`nobody`); ignored otherwise, and
   * `null` keeps the server's user.
   */
  user: string | null;
  /** Where profile directories are made. Default the OS temporary directory. */
  tmpDir?: string;
}

/** A running browser: its process group, its DevTools pipe, and how to end it. */
export interface Browser {
  readonly pid: number;
  /** The browser's own temporary profile (removed by {@link Browser.kill}). */
  readonly profileDir: string;
  readonly cdp: CdpPipe;
  /** Resolves when the browser process has exited. */
  readonly exited: Promise<void>;
  /** SIGKILL the whole process group (renderers, GPU and utility processes) and remove the profile. */
  kill(): Promise<void>;
}

/** Marker in every render browser's command line: what start-up cleanup looks for before it kills a recorded pid. */
export const PROFILE_PREFIX = 'tokhost-render-';

/**
 * The flags of a render browser: headless without a GPU; nothing that reaches the network on its
 * own; tab capture of its own tab accepted without a prompt (getDisplayMedia with
 * `preferCurrentTab`); media that plays without a gesture; WebRTC to the server on loopback with
 * real addresses; and no Local Network Access prompt for the publisher's socket to the server. The
 * sandbox needs user namespaces, which containers rarely grant: the browser runs without it, as an
 * unprivileged user, with its requests checked by the outbound policy (render/session.ts).
 */
export function browserArgs(o: Pick<BrowserOptions, 'width' | 'height'>, profileDir: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--remote-debugging-pipe',
    `--user-data-dir=${profileDir}`,
    `--window-size=${o.width},${o.height}`,
    // A screen larger than any viewport (the default headless screen is 800x600 and bounds the window).
    '--screen-info={0,0 4096x4096}',
    '--hide-scrollbars',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-quic',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    '--disable-default-apps',
    '--disable-breakpad',
    '--password-store=basic',
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    '--auto-accept-this-tab-capture',
    '--autoplay-policy=no-user-gesture-required',
    '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,MediaRouter,Translate,OptimizationHints',
    'about:blank',
  ];
}

/** uid and gid of `user` from /etc/passwd, or null when there is no such user. */
export function lookupUser(user: string): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // No passwd file: run as the server's user.
  }
  return null;
}

/**
 * Start a headless Chromium in its own process group with a fresh profile directory, driven over
 * a DevTools pipe. The caller kills it ({@link Browser.kill}) whatever happens.
 */
export function launchBrowser(o: BrowserOptions): Browser {
  const profileDir = mkdtempSync(join(o.tmpDir ?? tmpdir(), PROFILE_PREFIX));
  const asUser = o.user !== null && process.getuid?.() === 0 ? lookupUser(o.user) : null;
  if (asUser) chownSync(profileDir, asUser.uid, asUser.gid);
  let child: ChildProcess;
  try {
    child = spawn(o.executable, browserArgs(o, profileDir), {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
      // Its own process group: one kill(-pid) ends every process it started.
      detached: true,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: profileDir, XDG_CONFIG_HOME: profileDir, XDG_CACHE_HOME: profileDir, LANG: 'C.UTF-8' },
      ...(asUser ? { uid: asUser.uid, gid: asUser.gid } : {}),
    });
  } catch (err) {
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const cdp = new CdpPipe(child.stdio[3] as Writable, child.stdio[4] as Readable);
  const pid = child.pid ?? -1;
  let killed: Promise<void> | undefined;
  return {
    pid,
    profileDir,
    cdp,
    exited,
    kill: () =>
      (killed ??= (async () => {
        if (pid > 0) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
        rmSync(profileDir, { recursive: true, force: true, maxRetries: 3 });
      })()),
  };
}
